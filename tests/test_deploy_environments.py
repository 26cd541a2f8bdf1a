"""apply of several environments at once (deployer.environments): planned and applied in parallel,
each environment's lines prefixed, one confirmation, the worst exit code; on the emulator."""

from __future__ import annotations

import pytest

from deployer import cli as deploy
from tests.helpers import log_group_template, run_deploy, write_env

pytestmark = pytest.mark.deploy


def _two_environments(tmp_path):
    out = tmp_path / "out"
    for env in ("alpha", "beta"):
        write_env(
            out,
            [
                {"name": "base", "template": log_group_template(f"/t/{env}/base"), "parameters": {"Retention": "7"}},
                {
                    "name": "app",
                    "template": log_group_template(f"/t/{env}/app"),
                    "parameters_from_outputs": {"Retention": {"stack": "base", "output": "LogGroupName"}},
                },
            ],
            env=env,
        )
    return out


def test_two_environments_apply_in_parallel_with_prefixed_lines_then_are_up_to_date(moto, capsys, tmp_path):
    out = _two_environments(tmp_path)
    code, stdout, _ = run_deploy(capsys, moto, "apply", "--env", "alpha", "--env", "beta", "--yes", "--out", str(out))
    assert code == 0, stdout
    for env in ("alpha", "beta"):
        assert f"[{env}] " in stdout
        assert f"t-{env}-app" in stdout
    # every line of an environment names its environment: none of the other's stacks under its prefix
    assert not [line for line in stdout.splitlines() if line.startswith("[alpha] ") and "t-beta-" in line]
    code, stdout, _ = run_deploy(capsys, moto, "apply", "--all", "--yes", "--out", str(out))
    assert code == 0
    assert "[alpha] Nothing to apply: every stack is up to date." in stdout
    assert "[beta] Nothing to apply: every stack is up to date." in stdout


def test_the_worst_exit_code_of_the_environments_is_the_commands(moto, capsys, tmp_path):
    out = _two_environments(tmp_path)
    broken = log_group_template("/t/beta/base", extra={"Bad": {"Type": "AWS::EC2::Subnet", "Properties": {}}})
    write_env(out, [{"name": "base", "template": broken, "parameters": {"Retention": "7"}}], env="beta")
    code, stdout, _ = run_deploy(capsys, moto, "apply", "--all", "--yes", "--out", str(out))
    assert code == 1, stdout
    assert "[alpha] " in stdout and "[beta] " in stdout


def test_only_apply_takes_several_environments(capsys):
    with pytest.raises(SystemExit) as exited:
        deploy.main(["plan", "--env", "a", "--env", "b"])
    assert exited.value.code == 2
    assert "plan takes one --env (only apply takes several, or --all)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        deploy.main(["status"])
    assert exited.value.code == 2 and "the following arguments are required: --env" in capsys.readouterr().err
