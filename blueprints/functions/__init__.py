"""Lambda function sources embedded in the templates; each is a plain, unit-tested module."""
