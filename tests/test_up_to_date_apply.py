"""apply's quick look (deployer.up_to_date) on moto at 127.0.0.1: it stands only when every stack is up to
date, with exactly the normal path's output and no botocore client; any change, a missing stack, a stack
policy to set or credentials botocore would resolve otherwise go the normal path; the stale guard still
decides first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blueprints import manifest as contract
from deployer import USAGE, aws, emulator, up_to_date
from deployer.query_api import Credentials, FullPath
from tests.helpers import log_group_template, run_deploy, write_env
from tests.moto_support import client as moto_client

POLICY = {"Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]}


def _stacks(retention: str = "7", tags: dict | None = None, extra: dict | None = None) -> list[dict]:
    second = log_group_template("second-logs", outputs=False, extra=extra)
    second["Parameters"].update({"Upstream": {"Type": "String"}, "Kept": {"Type": "String", "Default": "k"}})
    env_tags = tags or {"Environment": "test"}
    return [
        {"name": "first", "template": log_group_template("first-logs"), "parameters": {"Retention": "7"}},
        {
            "name": "second",
            "template": second,
            "parameters": {"Retention": retention, "Kept": "k"},
            "parameters_from_outputs": {"Upstream": {"stack": "first", "output": "LogGroupName"}},
            "kept": ["Kept"],
            "tags": env_tags,
        },
    ]


def _out(tmp_path: Path, name: str = "out", policy: dict | None = POLICY, **variant) -> Path:
    out = write_env(tmp_path / name, _stacks(**variant))
    path = contract.path_in(out / "test")
    document = json.loads(path.read_text())
    for entry in document["stacks"]:
        entry["stack_policy"] = policy
    path.write_text(json.dumps(document, indent=2))
    return out


@pytest.fixture
def spy(monkeypatch):
    """Counts the quick look's successes and every botocore-backed Aws made."""
    seen = {"quick": 0, "botocore": 0}
    finish, init = up_to_date.finish, aws.Aws.__init__

    def counted_finish(*args, **kwargs):
        seen["quick"] += 1
        return finish(*args, **kwargs)

    def counted_init(self, *args, **kwargs):
        seen["botocore"] += 1
        init(self, *args, **kwargs)

    monkeypatch.setattr(up_to_date, "finish", counted_finish)
    monkeypatch.setattr(aws.Aws, "__init__", counted_init)
    return seen


def _apply(capsys, moto, out: Path, *extra: str):
    return run_deploy(capsys, moto, "apply", "--env", "test", "--out-dir", str(out), "--yes", *extra)


@pytest.mark.deploy
def test_an_up_to_date_environment_is_answered_by_the_quick_look_with_the_normal_output(
    moto, capsys, tmp_path, spy, monkeypatch
):
    out = _out(tmp_path)
    code, first, err = _apply(capsys, moto, out)
    assert code == 0, first + err
    assert spy["quick"] == 0  # nothing deployed yet: the normal path created both stacks
    spy.update(quick=0, botocore=0)
    code, quick_out, quick_err = _apply(capsys, moto, out)
    assert (code, spy["quick"], spy["botocore"]) == (0, 1, 0), quick_out + quick_err
    assert quick_out.rstrip().endswith("Nothing to apply: every stack is up to date.")
    monkeypatch.setattr(up_to_date, "target", lambda endpoint, profile: None)  # the normal path, for comparison
    code, normal_out, normal_err = _apply(capsys, moto, out)
    assert code == 0 and spy["quick"] == 1 and spy["botocore"] > 0
    assert (quick_out, quick_err) == (normal_out, normal_err)


@pytest.mark.deploy
@pytest.mark.parametrize(
    "variant",
    [
        {"extra": {"Other": {"Type": "AWS::SNS::Topic"}}},  # the template changes
        {"retention": "14"},  # a parameter value changes
        {"tags": {"Environment": "test", "Owner": "team"}},  # the stack tags change
    ],
    ids=["template", "parameter", "tags"],
)
def test_any_change_goes_the_normal_path(moto, capsys, tmp_path, spy, variant):
    code, out, err = _apply(capsys, moto, _out(tmp_path))
    assert code == 0, out + err
    spy.update(quick=0, botocore=0)
    code, out, err = _apply(capsys, moto, _out(tmp_path, "changed", **variant))
    assert code == 0, out + err
    assert spy["quick"] == 0 and spy["botocore"] > 0
    assert "== t-test-second (eu-west-1):" in out and "no change set made" not in out.split("t-test-second")[1]


@pytest.mark.deploy
def test_a_missing_stack_and_a_stack_policy_to_set_go_the_normal_path(moto, capsys, tmp_path, spy):
    out = _out(tmp_path)
    assert _apply(capsys, moto, out)[0] == 0
    cfn = moto_client(moto)
    cfn.set_stack_policy(StackName="t-test-first", StackPolicyBody='{"Statement": []}')
    spy.update(quick=0)
    code, text, err = _apply(capsys, moto, out)
    assert code == 0 and spy["quick"] == 0, text + err
    assert "t-test-first: stack policy set (the stack had none or another)" in text
    cfn.delete_stack(StackName="t-test-second")
    code, text, err = _apply(capsys, moto, out)
    assert code == 0 and spy["quick"] == 0, text + err
    assert "t-test-second" in text and "CREATE" in text
    assert _apply(capsys, moto, out)[0] == 0 and spy["quick"] == 1  # and now up to date again


@pytest.mark.deploy
def test_credentials_botocore_would_resolve_otherwise_go_the_normal_path(moto, capsys, tmp_path, spy, monkeypatch):
    out = _out(tmp_path)
    assert _apply(capsys, moto, out)[0] == 0
    monkeypatch.setenv("AWS_PROFILE", "missing")  # boto3's session fails on it: so must apply
    code, text, err = _apply(capsys, moto, out)
    assert code == 1 and spy["quick"] == 0 and "missing" in err, text + err


@pytest.mark.deploy
def test_the_stale_guard_decides_before_anything_is_shown(moto, capsys, tmp_path, spy, monkeypatch):
    from deployer import staleness

    out = _out(tmp_path)
    assert _apply(capsys, moto, out)[0] == 0
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "test.yaml").write_text("{}\n")
    generator = tmp_path / "fake-generate"
    generator.write_text(f"#!/bin/sh\nsleep 0.3\necho 'stale:   {out}/test/second.json'\nexit 1\n")
    generator.chmod(0o755)
    monkeypatch.setattr(staleness, "generator", lambda: generator)
    code, text, err = _apply(capsys, moto, out)
    assert code == USAGE and "is stale against params/: out/test/second.json (stale)" in err
    assert text == "" and spy["quick"] == 0
    generator.write_text("#!/bin/sh\nsleep 0.3\nexit 0\n")
    code, text, err = _apply(capsys, moto, out)
    assert code == 0 and spy["quick"] == 1 and text.rstrip().endswith("every stack is up to date."), text + err


# --- which credentials are known exactly (no AWS call) --------------------------------------------


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    import os

    for key in list(os.environ):
        if key.startswith("AWS_") or key.lower().endswith("_proxy"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    return monkeypatch


def test_static_keys_in_the_environment_are_used_and_anything_else_is_left_to_botocore(clean_env, tmp_path):
    local = "http://127.0.0.1:5055"
    # the keys botocore signs with on the normal path: EmulatorProvider's session, whatever the profile
    resolved = emulator.EmulatorProvider(local).clients("any-profile").session.get_credentials()
    signed_by_botocore = Credentials(resolved.access_key, resolved.secret_key, resolved.token)
    assert up_to_date.target(local, "any-profile") == signed_by_botocore
    assert up_to_date.target(None, None) is None  # no keys: botocore's chain (profiles, SSO, roles...)
    clean_env.setenv("AWS_ACCESS_KEY_ID", "AKID")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert up_to_date.target(None, None) == Credentials("AKID", "secret", None)
    clean_env.setenv("AWS_SESSION_TOKEN", "token")
    assert up_to_date.target(None, None) == Credentials("AKID", "secret", "token")
    assert up_to_date.target(None, "prod") is None  # --profile
    config = tmp_path / "no-config"
    config.write_text("[default]\nregion = eu-west-1\noutput = json\n")
    assert up_to_date.target(None, None) is not None
    config.write_text("[default]\nregion = eu-west-1\nuse_fips_endpoint = true\n")
    assert up_to_date.target(None, None) is None and up_to_date.target(local, None) is None
    config.unlink()
    for key, value in (
        ("AWS_PROFILE", "dev"),
        ("AWS_ENDPOINT_URL", "https://example.invalid"),
        ("AWS_CREDENTIAL_EXPIRATION", "2030-01-01T00:00:00Z"),
        ("HTTPS_PROXY", "http://proxy.invalid:3128"),
    ):
        clean_env.setenv(key, value)
        assert up_to_date.target(None, None) is None and up_to_date.target(local, None) is None, key
        clean_env.delenv(key)


def test_aws_endpoints_only_in_the_standard_partition(clean_env):
    quick = up_to_date.QuickAws(None, Credentials("a", "b"))
    assert quick.cfn("eu-west-1")._netloc == "cloudformation.eu-west-1.amazonaws.com"
    for region in ("cn-north-1", "us-gov-west-1", "us-iso-east-1"):
        with pytest.raises(FullPath):
            quick.cfn(region)
    with pytest.raises(FullPath):
        quick.client("s3", "eu-west-1")


def test_the_standard_partition_and_its_endpoints_are_botocores(clean_env):
    """Oracle: botocore's own partitions.json and the endpoint its client resolves for each region."""
    import boto3
    import botocore

    partitions = json.loads((Path(botocore.__file__).parent / "data" / "partitions.json").read_text())["partitions"]
    standard = next(p for p in partitions if p["id"] == "aws")
    assert up_to_date.AWS_REGION.pattern == standard["regionRegex"]
    session = boto3.Session(aws_access_key_id="a", aws_secret_access_key="b")
    quick = up_to_date.QuickAws(None, Credentials("a", "b"))
    for partition in partitions:
        for region in (r for r in partition["regions"] if not r.endswith("-global")):
            if partition["id"] != "aws":
                with pytest.raises(FullPath):
                    quick.cfn(region)
                continue
            expected = session.client("cloudformation", region_name=region).meta.endpoint_url
            assert f"https://{quick.cfn(region)._netloc}" == expected, region


# --- the stale guard's one generator run for several environments (a stand-in generator) ----------


def test_one_generator_run_answers_for_every_environment_and_a_refusal_is_asked_again_per_env(tmp_path, monkeypatch):
    from deployer import staleness

    out = tmp_path / "out"
    (tmp_path / "params").mkdir()
    for env in ("dev", "prod"):
        (out / env).mkdir(parents=True)
        (tmp_path / "params" / f"{env}.yaml").write_text("{}\n")
    runs, answer = tmp_path / "runs", tmp_path / "answer"
    generator = tmp_path / "fake-generate"
    generator.write_text(f'#!/bin/sh\necho "$*" >> {runs}\ncat {answer}\nexit $(cat {answer}.code)\n')
    generator.chmod(0o755)
    monkeypatch.setattr(staleness, "generator", lambda: generator)

    def result(text: str, code: int, envs: list[str]) -> tuple[dict, list[str]]:
        answer.write_text(text)
        Path(f"{answer}.code").write_text(str(code))
        runs.write_text("")
        with staleness.Pending(out, envs) as pending:
            found = pending.result()
        return found, runs.read_text().splitlines()

    found, ran = result(f"stale:   {out}/prod/service.json\n", 1, ["dev", "prod", "qa"])
    assert [line.split(" --out-dir")[0] for line in ran] == ["--check --cached --env dev --env prod"]
    assert found["dev"] == staleness.Staleness() and found["qa"].skipped
    assert found["prod"].differences == [("stale", "out/prod/service.json")]
    found, ran = result("params/prod.yaml: bad value\n", 2, ["dev", "prod"])  # refused: each its own run
    assert len(ran) == 3 and all(f.problem == "params/prod.yaml: bad value" for f in found.values())
    found, ran = result(f"extra:   {out}/other.json\n", 1, ["dev", "prod"])  # not in one env's folder
    assert len(ran) == 3 and found["dev"].differences == [("extra", "out/other.json")]
