"""Change-set deployment of out/<env>/ (see fargate-deploy for the command line).

Modules: manifest (reading out/<env>/), aws (clients, S3 upload), changesets (create, describe,
classify), waiting (polling, events, failures), render (tables and diffs), emulator (moto 5.2.5
support for --local), commands (plan/apply/status/outputs/diff/destroy).
"""

OK, FAILED, USAGE, CHANGES, INTERRUPTED = 0, 1, 2, 3, 130


class UserError(Exception):
    """Bad usage or bad input: reported in one line, exit code 2, nothing deployed."""
