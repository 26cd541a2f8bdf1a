"""The lint gate: every template in out/ passes cfn-lint (with the project rules of
``lintgate.rules`` and .cfnlintrc) and checkov with zero findings. ``fargate-lint`` (cli.py)
runs both; exceptions live in .cfnlintrc or the template's Metadata, each with a reason."""
