"""The tests' one support module: run the generator and the lint gate, copy params, read templates;
for the deploy tests, the deployer's CLI in-process and synthetic manifests; for the day-2 tests, out/
generated from a changed copy of a sample and the plan of an update between two trees.

``generate`` and ``lint`` call the programs' main functions in-process (no interpreter start, no
re-import of troposphere, cfn-lint or checkov per call) and return what a subprocess would: the
exit code and the output. ``generate_script``, ``console_script`` and ``run_lint`` run the real
command lines, for the few tests about the command line itself.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import yaml

from blueprints import cli as generate_cli
from deployer import manifest as deployer_manifest
from deployer.manifest import StackEntry
from deployer.plans import ChangeKind, Plan, PlanState

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out"
PARAMS = ROOT / "params"
BIN = Path(sys.executable).parent


def call_main(main: Callable[[list[str]], int], args: list[str]) -> subprocess.CompletedProcess:
    """A program's main(argv) in this process, read back like a finished subprocess."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        try:
            code = main(args)
        except SystemExit as exit_:  # argparse exits on --help and on bad usage
            code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    return subprocess.CompletedProcess(args, code, stdout.getvalue(), stderr.getvalue())


def generate(*args: str) -> subprocess.CompletedProcess:
    """The generator as generate.py runs it (params/ and out/ beside it unless the arguments say otherwise)."""
    from blueprints import cli

    return call_main(lambda argv: cli.main(argv, root=ROOT), list(args))


def lint(*args: str) -> subprocess.CompletedProcess:
    """The lint gate (fargate-lint) with these arguments."""
    from lintgate import cli

    return call_main(cli.main, list(args))


def _run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


def generate_script(*args: str) -> subprocess.CompletedProcess:
    """`python generate.py ...`: the script in the repository root."""
    return _run([sys.executable, str(ROOT / "generate.py"), *args])


def console_script(name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """An installed console script (fargate-generate, fargate-lint, ...), as make runs it."""
    return _run([str(BIN / name), *args], env)


def run_lint(*args: str) -> subprocess.CompletedProcess:
    """The lint gate's console script, as `make lint` runs it."""
    return console_script("fargate-lint", *args)


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def copy_params(tmp_path: Path, envs: tuple[str, ...] = ("dev",)) -> Path:
    """A private copy of some sample parameter files, for tests that edit them."""
    target = tmp_path / "params"
    target.mkdir()
    for env in envs:
        shutil.copy(PARAMS / f"{env}.yaml", target / f"{env}.yaml")
    return target


def edit_params(path: Path, change) -> None:
    """Load a params YAML file, let ``change(data)`` edit it, and write it back."""
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def template(env: str, stack: str) -> dict:
    return json.loads((OUT / env / f"{stack}.json").read_text())


def environments(engine: str | None = None) -> list[str]:
    """Sample environments with one ``service:`` (stacks network, service, pipeline), optionally only
    those whose service.deployment_engine is ``engine``. ``multi_service_environments`` lists the others."""
    names = []
    for path in sorted(PARAMS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if "service" not in data:
            continue
        if engine is None or (data["service"].get("deployment_engine") or "codedeploy") == engine:
            names.append(path.stem)
    return names


def multi_service_environments() -> list[str]:
    """Sample environments with ``services:`` (a platform stack and stacks per service)."""
    return sorted(p.stem for p in PARAMS.glob("*.yaml") if "services" in yaml.safe_load(p.read_text()))


def resources(body: dict, kind: str) -> dict:
    """Properties of every resource of one type, by logical ID."""
    return {k: v["Properties"] for k, v in body["Resources"].items() if v["Type"] == kind}


def role_statements(body: dict):
    """(role logical ID, statement) for every statement of every inline policy of every role."""
    for name, props in resources(body, "AWS::IAM::Role").items():
        for policy in props.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield name, statement


# --- deploy tests: the deployer's CLI in-process, synthetic manifests, Stubber clients -------------


def stub_client(service: str = "cloudformation"):
    """A client for botocore's Stubber: fake credentials, the samples' region, no endpoint ever reached."""
    import boto3

    return boto3.client(service, region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")


def fast_waiter():
    """The deployer's waiter without its pauses: Stubber answers at once."""
    from deployer import waiting

    waiter = waiting.Waiter()
    waiter.pause = lambda delay: None
    return waiter


def run_deploy(capsys, endpoint: str, *args: str) -> tuple[int, str, str]:
    from deployer import cli as deploy

    code = deploy.main([*args, "--local-endpoint", endpoint])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def log_group_template(name: str, outputs: bool = True, extra: dict | None = None) -> dict:
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"Retention": {"Type": "String", "Description": "days"}},
        "Resources": {
            "Logs": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": name, "RetentionInDays": {"Ref": "Retention"}},
            }
        },
    }
    if outputs:
        template["Outputs"] = {"LogGroupName": {"Value": {"Ref": "Logs"}}}
    template["Resources"].update(extra or {})
    return template


# A VPC and a subnet in the region's first zone ({"Fn::GetAZs": {"Ref": "AWS::Region"}}: emulator gap 1),
# the subnet an output.
SUBNET_TEMPLATE: dict = {
    "Resources": {
        "Net": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Sub": {
            "Type": "AWS::EC2::Subnet",
            "Properties": {
                "VpcId": {"Ref": "Net"},
                "CidrBlock": "10.0.0.0/24",
                "AvailabilityZone": {"Fn::Select": [0, {"Fn::GetAZs": {"Ref": "AWS::Region"}}]},
            },
        },
    },
    "Outputs": {"Subnet": {"Value": {"Ref": "Sub"}}},
}


def write_env(out: Path, stacks: list[dict], env: str = "test") -> Path:
    """Write out/<env>/ with a manifest in generate.py's format: stacks are dicts with name,
    template (a dict), parameters, and optionally parameters_from_outputs."""
    folder = out / env
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for stack in stacks:
        (folder / f"{stack['name']}.json").write_text(json.dumps(stack["template"], indent=2))
        wired = stack.get("parameters_from_outputs", {})
        entries.append(
            {
                "name": stack["name"],
                "stack_name": f"t-{env}-{stack['name']}",
                "template": f"{stack['name']}.json",
                "parameters_file": f"{stack['name']}.parameters.json",
                "region": "eu-west-1",
                "parameters": stack.get("parameters", {}),
                "parameters_from_outputs": wired,
                "parameters_kept_on_update": stack.get("kept", []),
                "depends_on": sorted({v["stack"] for v in wired.values()}),
                "capabilities": [],
                "tags": stack.get("tags", {"Environment": env}),
                "termination_protection": False,
            }
        )
    from blueprints import manifest

    (folder / "stacks.json").write_text(
        json.dumps({"format_version": manifest.FORMAT_VERSION, "environment": env, "stacks": entries}, indent=2)
    )
    return out


def two_wired_stacks(tmp_path: Path, retention: str = "7", log_name: str = "/t/base") -> Path:
    """out/test/ (under tmp_path) with stacks base and app, whose Retention parameter is base's output Days."""
    # base's output is its parameter, not a Ref to its log group: moto loses that Ref once the log
    # group is modified (gap 23 in tests/test_deploy_emulator.py)
    base = log_group_template(log_name, outputs=False)
    base["Outputs"] = {"Days": {"Value": {"Ref": "Retention"}}}
    return write_env(
        tmp_path / "out",
        [
            {"name": "base", "template": base, "parameters": {"Retention": retention}},
            {
                "name": "app",
                "template": log_group_template("/t/app"),
                "parameters_from_outputs": {"Retention": {"stack": "base", "output": "Days"}},
            },
        ],
    )


# --- day-2 tests: out/ from a changed copy of a sample, plans of an update between two trees --------

SUBNETS = {
    "PrivateSubnetIds": "subnet-p1,subnet-p2",
    "PublicSubnetIds": "subnet-u1,subnet-u2",
    "VpcId": "vpc-1",
    "VpcCidr": "10.20.0.0/16",
}


def variant(tmp_path: Path, env: str, edits: dict[str, str]) -> Path:
    """out/ of params/<env>.yaml with each regex replaced (every one must match), under tmp_path."""
    params = tmp_path / "params"
    params.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "params" / f"{env}.yaml").read_text()
    for pattern, replacement in edits.items():
        text, count = re.subn(pattern, replacement, text, flags=re.M)
        assert count, pattern
    (params / f"{env}.yaml").write_text(text)
    code = generate_cli.main(["--env", env, "--params-dir", str(params), "--out-dir", str(tmp_path / "out"), "-q"])
    assert code == 0
    return tmp_path / "out"


def update_plan(env: str, name: str, new_out: Path, changes: list[dict] | None = None, **deployed: str) -> Plan:
    """The plan of updating the stack deployed from the committed out/<env> to new_out/<env>; parameters
    wired to outputs get SUBNETS (or ``deployed``) on both sides; the change set holds ``changes``."""
    old = deployer_manifest.load(ROOT / "out", env).by_name(name)
    new = deployer_manifest.load(new_out, env).by_name(name)
    values = {**new.parameters, **{k: v for k, v in SUBNETS.items() if k in new.parameters_from_outputs}, **deployed}
    return Plan(
        entry=new,
        kind=ChangeKind.UPDATE,
        state=PlanState.CHANGES,
        stack={"Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]},
        change_set={"ChangeSetName": "c1", "ChangeSetId": "cs", "Changes": changes or []},
        api_parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        deployed_template=old.template,
        sent_template=new.template,
    )


def moto_change(logical_id: str, kind: str) -> dict:
    """A Modify as moto reports it: no Replacement, no Details."""
    return {
        "Type": "Resource",
        "ResourceChange": {"Action": "Modify", "LogicalResourceId": logical_id, "ResourceType": kind},
    }


def stack_entry(name: str = "net", template: dict | None = None, **fields: Any) -> StackEntry:
    """A manifest entry of stack ``app-<name>`` in eu-west-1 with nothing wired: ``fields`` override."""
    values: dict[str, Any] = {
        "name": name,
        "stack_name": f"app-{name}",
        "template_path": None,
        "region": "eu-west-1",
        "parameters": {},
        "parameters_from_outputs": {},
        "kept_on_update": [],
        "depends_on": [],
        "capabilities": [],
        "tags": {},
        "termination_protection": False,
        "template": {"Resources": {}} if template is None else template,
    }
    return StackEntry(**(values | fields))


def assert_matches_shape(value: Any, shape: Any, where: str = "") -> None:
    """``value`` as botocore's model describes ``shape``: member names, types and required members
    (botocore's ParamValidator), and every string of an enum shape one of its values (which the
    validator leaves unchecked)."""
    from botocore.validate import ParamValidator

    report = ParamValidator().validate(value, shape)
    assert not report.has_errors(), f"{where}: {report.generate_report()}"
    _check_enums(value, shape, where)


def _check_enums(value: Any, shape: Any, where: str) -> None:
    if shape.type_name == "structure" and isinstance(value, dict):
        for key, item in value.items():
            _check_enums(item, shape.members[key], f"{where}.{key}")
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            _check_enums(item, shape.member, f"{where}[{index}]")
    elif shape.type_name == "string" and shape.enum:
        assert value in shape.enum, f"{where}: {value!r} is not one of {shape.enum}"
