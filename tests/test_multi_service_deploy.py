"""Several services in one environment (params/apps.yaml: ``web`` released by ECS's own blue/green,
``api`` by CodeDeploy, both behind the platform stack's shared listeners), deployed, updated, destroyed
and released on the emulator. Every test works on a copy of out/apps (no params/ beside it, so the
stale guard does not depend on concurrent edits of params/).

What is executed and what is emulated: plan, apply, demo and destroy are the deployer's own commands
against moto 5.2.5 on 127.0.0.1 (with the numbered gaps of deployer.emulator closed; gap 28, what
moto's DeleteStack leaves behind, matters here). The rehearsal runs each pipeline's buildspecs and the
deploy action's calls for real on an in-process moto; moto runs no deployment, so the traffic move of
a blue/green deployment is emulated (deployer.rehearsal_traffic): real ModifyRule calls, on the rules
the released service's stack names, writing the deployment's end state. The isolation test therefore
shows that the rehearsed release path (the deployer's stacks and the rehearsal's emulation) touches only
the releasing service's rules, not that ECS or CodeDeploy themselves would; the last test shows the
check would notice a move aimed at the wrong rules.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from deployer import cli as deploy
from deployer import manifest as out_tree
from deployer import rehearsal_traffic
from deployer.rehearsal import Target, rehearse
from deployer.reporter import Reporter
from tests.helpers import OUT, call_main, run_deploy
from tests.moto_support import client

pytestmark = pytest.mark.deploy
ENV = "apps"
PREFIX = "webapp-apps"
STACKS = ["network", "platform", "service-web", "pipeline-web", "service-api", "pipeline-api"]
SERVICES = {"service-web": f"{PREFIX}-service-web", "service-api": f"{PREFIX}-service-api"}
RULE = "AWS::ElasticLoadBalancingV2::ListenerRule"
NOT_FOUND = {
    "Type": "fixed-response",
    "FixedResponseConfig": {
        "MessageBody": "No service answers this request.",
        "StatusCode": "404",
        "ContentType": "text/plain",
    },
}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    shutil.copytree(OUT / ENV, tmp_path / "out" / ENV)
    return tmp_path / "out"


def _dump(value: Any) -> str:
    """The exact serialisation compared for "byte-identical" (key order included)."""
    return json.dumps(value, default=str)


def _stack_rules(endpoint: str, stack_name: str) -> set[str]:
    """Physical IDs of the stack's listener rules (DescribeStackResources)."""
    resources = client(endpoint).describe_stack_resources(StackName=stack_name)["StackResources"]
    return {r["PhysicalResourceId"] for r in resources if r.get("ResourceType") == RULE}


def _routing(endpoint: str) -> dict[str, dict[str, Any]]:
    """The platform's shared listeners and every rule on them, as DescribeListeners and DescribeRules answer."""
    outputs = client(endpoint).describe_stacks(StackName=f"{PREFIX}-platform")["Stacks"][0]["Outputs"]
    found = {o["OutputKey"]: o["OutputValue"] for o in outputs}
    arns = [found["ProductionListenerArn"], found["TestListenerArn"]]
    elbv2 = client(endpoint, "elbv2")
    listeners = {item["ListenerArn"]: item for item in elbv2.describe_listeners(ListenerArns=arns)["Listeners"]}
    rules = {rule["RuleArn"]: rule for arn in arns for rule in elbv2.describe_rules(ListenerArn=arn)["Rules"]}
    return {"listeners": listeners, "rules": rules}


def _touched(before: dict, after: dict, moved: set[str]) -> list[str]:
    """ARNs of listeners and rules that are not byte-identical after, other than the rules in ``moved``."""
    changed = [arn for arn, item in before["listeners"].items() if _dump(item) != _dump(after["listeners"].get(arn))]
    changed += [
        arn
        for arn, rule in before["rules"].items()
        if arn not in moved and _dump(rule) != _dump(after["rules"].get(arn))
    ]
    changed += [arn for arn in after["rules"] if arn not in before["rules"]]
    return sorted(changed)


def _forward(rule: dict) -> dict[str, int]:
    """Target group name -> weight of a rule's forward action (a plain TargetGroupArn forwards 100%)."""
    [action] = rule["Actions"]
    assert action["Type"] == "forward"

    def name(arn: str) -> str:  # arn:aws:elasticloadbalancing:...:targetgroup/NAME/ID
        return arn.split("/")[-2]

    if "ForwardConfig" in action:
        return {name(g["TargetGroupArn"]): g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]}
    return {name(action["TargetGroupArn"]): 100}


def _stacks(endpoint: str, names: list[str]) -> dict[str, str]:
    """Each stack's DescribeStacks entry and deployed template, serialised."""
    cfn = client(endpoint)
    return {
        name: _dump(cfn.describe_stacks(StackName=f"{PREFIX}-{name}")["Stacks"][0])
        + _dump(cfn.get_template(StackName=f"{PREFIX}-{name}")["TemplateBody"])
        for name in names
    }


def _apply(capsys, endpoint: str, out: Path, *stacks: str) -> str:
    selection = [arg for name in stacks for arg in ("--stack", name)]
    code, stdout, stderr = run_deploy(capsys, endpoint, "apply", "--env", ENV, "--yes", "--out", str(out), *selection)
    assert code == 0, stdout[-4000:] + stderr[-2000:]
    return stdout


def test_plan_local_shows_the_platform_stack_and_each_services_stacks(out, capsys):
    """`fargate-deploy plan --env apps --local`: network, one platform stack, then per service its service
    and pipeline stacks (manifest order), each waiting on the outputs of those it needs."""
    code = deploy.main(["plan", "--env", ENV, "--local", "--out", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    headers = [line for line in stdout.splitlines() if line.startswith("== ")]
    assert headers == [
        f"== {PREFIX}-network (eu-west-1): create ==",
        f"== {PREFIX}-platform (eu-west-1): create after network (known after apply) ==",
        f"== {PREFIX}-service-web (eu-west-1): create after network, platform (known after apply) ==",
        f"== {PREFIX}-pipeline-web (eu-west-1): create after service-web (known after apply) ==",
        f"== {PREFIX}-service-api (eu-west-1): create after network, platform (known after apply) ==",
        f"== {PREFIX}-pipeline-api (eu-west-1): create after service-api (known after apply) ==",
    ]
    assert "Plan: 6 of 6 stacks would change." in stdout


def test_demo_deploys_both_services_and_a_second_apply_is_up_to_date(out, capsys):
    """`fargate-deploy demo --env apps` (what `make demo ENV=apps` runs after generating): a fresh moto on
    127.0.0.1 started by the command, every stack created, outputs shown, then nothing to apply."""
    code = deploy.main(["demo", "--env", ENV, "--out", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0, stdout[-4000:]
    created, again = stdout.split("-- demo: apply again (expect: up to date) --")
    for name in STACKS:
        assert f"== {PREFIX}-{name}: CREATE_COMPLETE ==" in created
        assert f"== {PREFIX}-{name} (eu-west-1): up to date ==" in again
    assert "Nothing to apply: every stack is up to date." in again
    assert "LOCAL EMULATOR stopped" in stdout


def test_shared_rules_are_created_and_stack_service_web_updates_only_that_stack(moto, out, capsys):
    """moto 5.2.5 creates the services' rules on the shared listeners as the templates write them (no gap):
    host-header conditions, web's weighted forward blue 100 / green 0, api's plain forward to its blue
    target group; the listeners' default action answers 404. Then a change to service-web's template alone,
    planned and applied with --stack service-web, updates that stack only: every other stack (its
    DescribeStacks entry, LastUpdatedTime included, and its template) and every listener and rule are
    byte-identical afterwards."""
    _apply(capsys, moto, out)
    routing = _routing(moto)
    for listener in routing["listeners"].values():
        assert listener["DefaultActions"] == [NOT_FOUND]
    by_listener: dict[str, dict[str, dict]] = {}
    for rule in routing["rules"].values():
        by_listener.setdefault(rule["RuleArn"].rsplit("/", 1)[0], {})[rule["Priority"]] = rule
    assert len(by_listener) == 2
    for rules in by_listener.values():
        assert sorted(rules) == ["10", "20", "default"]
        assert rules["10"]["Conditions"] == [
            {"Field": "host-header", "HostHeaderConfig": {"Values": ["www.example.com"]}}
        ]
        assert rules["20"]["Conditions"] == [
            {"Field": "host-header", "HostHeaderConfig": {"Values": ["api.example.com"]}}
        ]
        assert _forward(rules["10"]) == {f"{PREFIX}-web-blue": 100, f"{PREFIX}-web-green": 0}
        assert _forward(rules["20"]) == {f"{PREFIX}-api-blue": 100}
        assert rules["default"]["IsDefault"] and rules["default"]["Actions"] == [NOT_FOUND]
    assert _stack_rules(moto, SERVICES["service-web"]) | _stack_rules(moto, SERVICES["service-api"]) == {
        r["RuleArn"] for rules in by_listener.values() for p, r in rules.items() if p != "default"
    }

    neighbours = [name for name in STACKS if name != "service-web"]
    before = _stacks(moto, neighbours)
    template_path = out / ENV / "service-web.json"
    template = json.loads(template_path.read_text())
    template["Resources"]["Service"]["Properties"]["DesiredCount"] = 2
    template_path.write_text(json.dumps(template, indent=1))

    code, stdout, _ = run_deploy(capsys, moto, "plan", "--env", ENV, "--stack", "service-web", "--out", str(out))
    assert code == 0, stdout
    assert [line for line in stdout.splitlines() if line.startswith("== ")] == [
        f"== {PREFIX}-service-web (eu-west-1): update =="
    ]
    assert "Service DesiredCount: 1 → 2" in stdout and "Plan: 1 of 1 stacks would change." in stdout

    stdout = _apply(capsys, moto, out, "service-web")
    assert f"== {PREFIX}-service-web: UPDATE_COMPLETE ==" in stdout
    assert not [name for name in neighbours if f"{PREFIX}-{name}" in stdout]
    assert _stacks(moto, neighbours) == before
    assert _touched(routing, _routing(moto), moved=set()) == []
    ecs = client(moto, "ecs")
    counts = {
        s["serviceName"]: s["desiredCount"]
        for s in ecs.describe_services(cluster=PREFIX, services=[f"{PREFIX}-web-service", f"{PREFIX}-api-service"])[
            "services"
        ]
    }
    assert counts == {f"{PREFIX}-web-service": 2, f"{PREFIX}-api-service": 1}


def test_destroy_refuses_the_platform_under_a_service_and_deletes_one_service_alone(moto, out, capsys):
    """destroy --stack platform is refused while a service stack using its outputs is deployed (exact text,
    nothing deleted); service-web's own pipeline must go first; then destroy --stack service-web deletes
    only it: network, platform, service-api and pipeline-api stay byte-identical, and so do the listeners
    and api's rules, while web's rules leave the shared listeners (on moto thanks to gap 28's workaround).
    service-web can then be created again beside service-api."""
    _apply(capsys, moto, out)
    routing = _routing(moto)
    web_rules, api_rules = (_stack_rules(moto, SERVICES[name]) for name in ("service-web", "service-api"))
    kept = ["network", "platform", "service-api", "pipeline-api"]
    before = _stacks(moto, kept)

    def destroy(*stacks: str) -> tuple[int, str]:
        selection = [arg for name in stacks for arg in ("--stack", name)]
        code, stdout, _ = run_deploy(capsys, moto, "destroy", "--env", ENV, "--yes", "--out", str(out), *selection)
        return code, stdout

    code, stdout = destroy("platform")
    assert code == 1
    assert [line for line in stdout.splitlines() if line.startswith("Refused:")] == [
        f"Refused: {PREFIX}-service-web is deployed and uses outputs of {PREFIX}-platform. "
        "Destroy it first (or add --stack service-web).",
        f"Refused: {PREFIX}-service-api is deployed and uses outputs of {PREFIX}-platform. "
        "Destroy it first (or add --stack service-api).",
    ]
    assert "DELETE" not in stdout and _stacks(moto, kept) == before

    code, stdout = destroy("service-web")
    assert code == 1
    assert (
        f"Refused: {PREFIX}-pipeline-web is deployed and uses outputs of {PREFIX}-service-web. "
        "Destroy it first (or add --stack pipeline-web)." in stdout
    )
    assert destroy("pipeline-web")[0] == 0
    code, stdout = destroy("service-web")
    assert code == 0, stdout
    assert f"Will delete, in this order:\n  {PREFIX}-service-web (" in stdout
    assert [line for line in stdout.splitlines() if line.startswith("== ")] == [
        f"== {PREFIX}-service-web: DELETE_COMPLETE =="
    ]
    assert "(gap 28); deleted now" in stdout

    assert _stacks(moto, kept) == before
    after = _routing(moto)
    assert _touched(routing, after, moved=web_rules) == []  # listeners and every other rule byte-identical
    assert not web_rules & set(after["rules"]) and api_rules <= set(after["rules"])
    groups = {g["TargetGroupName"] for g in client(moto, "elbv2").describe_target_groups()["TargetGroups"]}
    assert groups == {f"{PREFIX}-api-blue", f"{PREFIX}-api-green"}

    code, stdout = destroy("platform")
    assert code == 1
    assert [line for line in stdout.splitlines() if line.startswith("Refused:")] == [
        f"Refused: {PREFIX}-service-api is deployed and uses outputs of {PREFIX}-platform. "
        "Destroy it first (or add --stack service-api)."
    ]

    stdout = _apply(capsys, moto, out, "service-web")
    assert f"== {PREFIX}-service-web: CREATE_COMPLETE ==" in stdout
    priorities = sorted(r["Priority"] for r in _routing(moto)["rules"].values())
    assert priorities == ["10", "10", "20", "20", "default", "default"]


# --- release rehearsal: one release per service ------------------------------------------------------


def _rehearse(out: Path, **kwargs: Any) -> tuple[int, str, dict]:
    """The rehearsal with an observer that reads, before and after each release, the shared routing and
    the rules each service stack names."""
    seen: dict = {}

    def observe(moment: str, target: Target, endpoint: str) -> None:
        seen[(moment, target.service.name)] = _routing(endpoint)
        seen[("rules", target.service.name)] = {name: _stack_rules(endpoint, stack) for name, stack in SERVICES.items()}

    stream = io.StringIO()
    code = rehearse(out, ENV, reporter=Reporter(out=stream, err=stream), observe=observe, **kwargs)
    return code, stream.getvalue(), seen


def test_a_release_of_one_service_leaves_the_other_services_rules_byte_identical(out):
    """`fargate-deploy rehearse --env apps` rehearses web's release (ECS blue/green: a CodeBuild step's
    UpdateService) and then api's (CodeDeployToECS). Around each, DescribeListeners and DescribeRules of
    both shared listeners: the other service's rules (the whole dicts), the default rules and the
    listeners (default actions included) are byte-identical; the releasing service's two rules, and only
    they, now send everything to its other target group. The move itself is the rehearsal's emulation
    (see the module docstring); that it lands on the right rules is what this test checks."""
    code, output, seen = _rehearse(out)
    assert code == 0, output[-4000:]
    assert "-- release 1 of 2: webapp-apps-service-web by webapp-apps-pipeline-web --" in output
    assert "-- release 2 of 2: webapp-apps-service-api by webapp-apps-pipeline-api --" in output
    assert "rehearse apps: every release reached its service (service-web by pipeline-web, service-api by " in output
    assert output.count("result: OK") == 2
    expected = {
        "service-web": ({"web-blue": 100, "web-green": 0}, {"web-green": 100, "web-blue": 0}),
        # CodeDeploy leaves the original target group in the forward action with weight 0.
        "service-api": ({"api-blue": 100}, {"api-green": 100, "api-blue": 0}),
    }
    for released, other in (("service-web", "service-api"), ("service-api", "service-web")):
        before, after = seen[("before", released)], seen[("after", released)]
        rules = seen[("rules", released)]
        moved = rules[released]
        assert len(moved) == 2 and len(rules[other]) == 2
        for arn in rules[other]:
            assert _dump(after["rules"][arn]) == _dump(before["rules"][arn])
        for arn, listener in before["listeners"].items():
            assert _dump(after["listeners"][arn]) == _dump(listener)
            assert listener["DefaultActions"] == [NOT_FOUND]
        assert _touched(before, after, moved) == []
        was, now = ({f"{PREFIX}-{k}": v for k, v in weights.items()} for weights in expected[released])
        for arn in moved:
            assert (_forward(before["rules"][arn]), _forward(after["rules"][arn])) == (was, now)
            assert after["rules"][arn]["Conditions"] == before["rules"][arn]["Conditions"]
            assert after["rules"][arn]["Priority"] == before["rules"][arn]["Priority"]
        assert (
            f"traffic move (moto's deployments move none) — its end state on the rules {SERVICES[released]}" in output
        )


def test_the_check_notices_a_release_that_moves_the_other_services_rules(out, monkeypatch):
    """The same check, on a release made wrong on purpose: web's release (selected with stacks=, as
    `rehearse --stack pipeline-web` does) has its traffic move aimed at api's rules. The rehearsal itself
    still succeeds (its final check reads only the service's task definition), and the isolation check
    names exactly api's two rules."""
    original = rehearsal_traffic.codedeploy_move
    api_entry = out_tree.load(out, ENV).by_name("service-api")

    def wrong(release):
        from deployer.emulator import EmulatorProvider
        from deployer.rehearsal_model import read_stack

        other = read_stack(release.aws, EmulatorProvider(release.ws.endpoint), api_entry)
        return original(dataclasses.replace(release, service=other))

    monkeypatch.setattr(rehearsal_traffic, "ecs_move", wrong)
    code, output, seen = _rehearse(out, stacks=["pipeline-web"])
    assert code == 0, output[-4000:]
    assert "-- release 1 of 1: webapp-apps-service-web by webapp-apps-pipeline-web --" in output
    assert "release 2 of" not in output and "the release of service-api" not in output
    before, after = seen[("before", "service-web")], seen[("after", "service-web")]
    rules = seen[("rules", "service-web")]
    assert len(rules["service-api"]) == 2 and not rules["service-api"] & rules["service-web"]
    assert _touched(before, after, moved=rules["service-web"]) == sorted(rules["service-api"])


def test_rehearse_stack_selection_names_a_release(out):
    """--stack selects releases by pipeline or service stack; a stack that releases nothing is bad input."""
    result = call_main(deploy.main, ["rehearse", "--env", ENV, "--stack", "platform", "--out-dir", str(out)])
    assert result.returncode == 2, result.stderr
    assert (
        "--stack platform names no release to rehearse (a pipeline stack or the service stack it releases: "
        "pipeline-web (releases service-web), pipeline-api (releases service-api))" in result.stderr
    )
