"""Day 2 of an environment with several services (params/apps.yaml): one apply judged against the rest
of its environment (deployer.environment_checks, read by deployer.day2.environment).

- Listener-rule priorities on the shared listeners: a rule out/ puts on a priority another rule holds now
  runs after the stack that moves that rule away (same apply), a swap is refused with the two-step
  procedure, any other holder is refused naming it.
- Stacks of the environment out/ no longer names: reported; a platform update beside a removed service's
  stack, and either layout's stack created beside the other's, are refused.
- --stack subsets: a dependency left out that is not deployed, or has changes, is refused.

The pure tests build the facts by hand. The emulator tests (marker ``deploy``, moto 5.2.5 on 127.0.0.1)
run the deployer's plan and apply on variants of params/apps.yaml generated into tmp: moto enforces
unique priorities per listener (CreateRule, a rule a stack creates, SetRulePriorities: PriorityInUse) but
ignores a priority change in a stack update (gap 29, closed by the emulator provider), so these scenarios
fail there as they would on AWS without the ordering or refusal.
"""

from __future__ import annotations

import copy
import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from blueprints import cli as generate_cli
from deployer import environment_checks, routing
from deployer import manifest as out_tree
from deployer.emulator import normalise_stack, template_for_emulator
from deployer.manifest import StackEntry
from deployer.plans import (
    ChangeKind,
    Dependency,
    DependencyState,
    EnvironmentFacts,
    LiveRule,
    OtherStack,
    Plan,
    PlannedRule,
    PlanState,
)
from deployer.render import refusal_lines
from tests.helpers import OUT, PARAMS, run_deploy, stack_entry
from tests.moto_support import client

ENV = "apps"
PREFIX = "webapp-apps-"
ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:"
PROD = f"{ARN}listener/app/webapp-apps-alb/1/prod"
TEST = f"{ARN}listener/app/webapp-apps-alb/1/test"
LISTENERS = {"ProductionListenerArn": PROD, "TestListenerArn": TEST}
RULES = {"ProductionListenerArn": "ProductionListenerRule", "TestListenerArn": "TestListenerRule"}
# web 10, new 20, api 20 → 30: new runs after api.
INSERT_ORDER = (
    "Order: webapp-apps-service-new runs after webapp-apps-service-api, which moves its rules off the priority "
    "service-new takes (service-new's ProductionListenerRule, TestListenerRule take priority 20 from "
    "service-api's ProductionListenerRule, TestListenerRule; a listener holds each priority once)."
)
# web 10 → 20 and api 20 → 10 in one apply.
SWAP_REFUSAL = (
    "Refused: webapp-apps-service-api, webapp-apps-service-web would take each other's listener-rule priorities "
    "(service-api's ProductionListenerRule, TestListenerRule take priority 10 from service-web's "
    "ProductionListenerRule, TestListenerRule; service-web's ProductionListenerRule, TestListenerRule take "
    "priority 20 from service-api's ProductionListenerRule, TestListenerRule): ALB rejects two rules with one "
    "priority on a listener, so neither update can go first. Two steps: first move one of them to a free "
    "priority (e.g. services.api.routing.priority: 21, free on those listeners), generate and apply; then set "
    "the final priorities, generate and apply again."
)


# --- pure: facts built by hand --------------------------------------------------------------------


def _entry(name: str, depends_on: tuple[str, ...] = (), tags: dict[str, str] | None = None) -> StackEntry:
    tags = tags if tags is not None else {"Project": "webapp", "Environment": ENV}
    return stack_entry(name, stack_name=PREFIX + name, depends_on=list(depends_on), tags=tags)


def _manifest(*services: str) -> list[StackEntry]:
    stacks = [_entry("network"), _entry("platform", ("network",))]
    for name in services:
        stacks += [_entry(f"service-{name}", ("network", "platform")), _entry(f"pipeline-{name}", (f"service-{name}",))]
    return stacks


def _plans(stacks: list[StackEntry], **states: str) -> list[Plan]:
    """Plans of these stacks: ``create``, ``update`` (both with changes) or up to date (not named)."""
    plans = []
    for entry in stacks:
        state = states.get(entry.name.replace("-", "_"))
        plans.append(
            Plan(
                entry=entry,
                kind=ChangeKind.CREATE if state == "create" else ChangeKind.UPDATE,
                state=PlanState.CHANGES if state else PlanState.UP_TO_DATE,
            )
        )
    return plans


def _planned(stack: str, priority: int) -> list[PlannedRule]:
    return [PlannedRule(PREFIX + stack, RULES[p], p, arn, priority) for p, arn in LISTENERS.items()]


def _live(stack: str | None, priority: int) -> list[LiveRule]:
    owner = PREFIX + stack if stack else None
    return [
        LiveRule(
            f"{arn}/{stack or 'manual'}-{priority}".replace(":listener/", ":listener-rule/"),
            arn,
            priority,
            owner,
            RULES[p] if stack else None,
        )
        for p, arn in LISTENERS.items()
    ]


def _judge(facts: EnvironmentFacts, plans: list[Plan], stacks: list[StackEntry] | None = None):
    found = environment_checks.judge(facts, plans, stacks or [p.entry for p in plans], ENV)
    return found, refusal_lines(found.refusals)


def test_a_service_inserted_in_the_middle_runs_after_the_service_that_frees_its_priority():
    """web 10, new 20, api 20 → 30 (derived priorities): new's rules take 20, which api's hold now and api's
    update gives up; new runs after api. Rules at their own priority (web's, and api's at 30, free) are no
    conflict."""
    stacks = _manifest("web", "new", "api")
    plans = _plans(stacks, service_new="create", pipeline_new="create", service_api="update")
    facts = EnvironmentFacts(
        prefix=PREFIX,
        planned=_planned("service-web", 10) + _planned("service-new", 20) + _planned("service-api", 30),
        live=_live("service-web", 10) + _live("service-api", 20),
    )
    found, refused = _judge(facts, plans)
    assert refused == [] and found.after == {"service-new": ["service-api"]}
    assert found.lines == [INSERT_ORDER]


def test_swapped_priorities_are_refused_with_the_two_step_procedure():
    """web 10 → 20 and api 20 → 10: each takes what the other holds, so no order works."""
    stacks = _manifest("web", "api")
    plans = _plans(stacks, service_web="update", service_api="update")
    facts = EnvironmentFacts(
        prefix=PREFIX,
        planned=_planned("service-web", 20) + _planned("service-api", 10),
        live=_live("service-web", 10) + _live("service-api", 20),
    )
    found, refused = _judge(facts, plans)
    assert found.after == {} and found.lines == []
    assert refused == [SWAP_REFUSAL]


def test_a_holder_left_out_outside_the_manifest_or_owned_by_no_stack_is_refused_by_name():
    """The insertion with --stack service-new alone: api's rules would not move first. A new service on the
    priority of a removed service's stack (still deployed), or of a rule made by hand: refused, naming it."""
    stacks = _manifest("web", "new", "api")
    plans = [p for p in _plans(stacks, service_new="create") if p.entry.name == "service-new"]
    facts = EnvironmentFacts(
        prefix=PREFIX,
        planned=_planned("service-new", 20) + _planned("service-api", 30),
        live=_live("service-api", 20),
    )
    _, refused = _judge(facts, plans, stacks)
    assert refused == [
        f"Refused: webapp-apps-service-new would give {rule} priority 20 on listener {parameter} "
        f"(app/webapp-apps-alb/1/{tail}), which webapp-apps-service-api's {rule} holds now (out/ moves it to 30); "
        "that stack is left out by --stack, so the rule would not move first. Add --stack service-api (it is "
        "applied first), or apply it first: fargate-deploy apply --env apps --stack service-api."
        for parameter, rule, tail in (
            ("ProductionListenerArn", "ProductionListenerRule", "prod"),
            ("TestListenerArn", "TestListenerRule", "test"),
        )
    ]

    stacks = _manifest("web", "new")
    plans = _plans(stacks, service_new="create")
    facts = EnvironmentFacts(prefix=PREFIX, planned=_planned("service-new", 20), live=_live("service-legacy", 20))
    _, refused = _judge(facts, plans)
    assert refused[0] == (
        "Refused: webapp-apps-service-new would give ProductionListenerRule priority 20 on listener "
        "ProductionListenerArn (app/webapp-apps-alb/1/prod), which webapp-apps-service-legacy's "
        "ProductionListenerRule holds now, a stack out/apps does not name. Destroy webapp-apps-service-legacy "
        "first with the out/ that deployed it (or restore its params), or give services.new.routing.priority a "
        "priority no rule of that listener holds (in use: 20), generate again and apply."
    )
    facts = EnvironmentFacts(prefix=PREFIX, planned=_planned("service-new", 20), live=_live(None, 20))
    _, refused = _judge(facts, plans)
    assert refused[0].startswith(
        "Refused: webapp-apps-service-new would give ProductionListenerRule priority 20 on listener "
        f"ProductionListenerArn (app/webapp-apps-alb/1/prod), which rule {ARN}listener-rule/app/webapp-apps-alb/1/"
        "prod/manual-20 holds now, a rule no stack of this environment owns. Delete that rule, or give "
        "services.new.routing.priority a priority no rule"
    )


def test_rules_at_their_own_priority_and_up_to_date_stacks_are_no_conflict():
    stacks = _manifest("web", "api")
    facts = EnvironmentFacts(
        prefix=PREFIX,
        planned=_planned("service-web", 10) + _planned("service-api", 20),
        live=_live("service-web", 10) + _live("service-api", 20),
    )
    found, refused = _judge(facts, _plans(stacks, service_web="update", service_api="update"))
    assert (found.after, found.lines, refused) == ({}, [], [])


def test_stacks_outside_the_manifest_are_reported_and_block_a_platform_update():
    """service-legacy and its pipeline were removed from params but are deployed: reported by plan; the
    platform's update is refused while service-legacy is deployed (not while it is up to date). Stacks of
    another environment with the same prefix (by out/'s other manifests, or by their tags), deleted ones
    and empty ones do not count."""
    stacks = _manifest("web", "api")
    others = [
        OtherStack(f"{PREFIX}pipeline-legacy", "UPDATE_COMPLETE"),
        OtherStack(f"{PREFIX}service-legacy", "CREATE_COMPLETE", (("Environment", ENV),)),
        OtherStack(f"{PREFIX}eu-network", "CREATE_COMPLETE"),  # webapp-apps-eu: another environment of out/
        OtherStack(f"{PREFIX}x-service-a", "CREATE_COMPLETE", (("Environment", "apps-x"),)),
        OtherStack(f"{PREFIX}service-empty", "REVIEW_IN_PROGRESS"),
    ]
    facts = EnvironmentFacts(prefix=PREFIX, others=others, other_manifests={f"{PREFIX}eu-network"})
    found, refused = _judge(facts, _plans(stacks, platform="update"))
    assert found.lines == [
        "Deployed but not in out/apps: webapp-apps-pipeline-legacy (UPDATE_COMPLETE), webapp-apps-service-legacy "
        "(CREATE_COMPLETE), webapp-apps-service-empty (REVIEW_IN_PROGRESS) — destroy them with the previous out/, "
        "or restore their params."
    ]
    assert refused == [
        "Refused: webapp-apps-platform would update the shared platform while webapp-apps-service-legacy, not in "
        "out/apps, is deployed: the platform opens only the ports and egress of the services in out/, so this "
        "update may drop what that service still serves through. Destroy it first with the out/ that deployed it "
        "(fargate-deploy destroy --env apps --stack pipeline-legacy --stack service-legacy --out-dir PREVIOUS_OUT), "
        "or restore its service in params/apps.yaml and generate again."
    ]
    found, refused = _judge(facts, _plans(stacks, service_web="update"))
    assert refused == [] and len(found.lines) == 1


def test_either_layouts_stack_beside_the_others_is_refused():
    """Creating platform while the single-service layout's service stack of the environment is deployed, and
    creating service while platform is: the move between layouts is a new environment."""
    stacks = _manifest("web")
    facts = EnvironmentFacts(prefix=PREFIX, others=[OtherStack(f"{PREFIX}service", "UPDATE_COMPLETE")])
    _, refused = _judge(facts, _plans(stacks, network="update", platform="create", service_web="create"))
    assert refused == [
        "Refused: webapp-apps-platform would create the several services (services:) layout's platform stack while "
        "webapp-apps-service, the one service (service:) layout's, is deployed in this environment: both hold the "
        "cluster and load balancer under the same names. Moving between service: and services: is a new "
        "environment (README, Several services, Day 2): a new params file with another environment name, move "
        "traffic, then destroy this one."
    ]
    single = [_entry("network"), _entry("service", ("network",)), _entry("pipeline", ("service",))]
    plans = _plans(single, service="create", pipeline="create")
    assert environment_checks.scan_scope(single, plans) == ["platform"]
    assert environment_checks.scan_scope(single, _plans(single, service="update")) is None
    assert environment_checks.scan_scope(stacks, _plans(stacks)) == ["*"]
    facts = EnvironmentFacts(prefix=PREFIX, others=[OtherStack(f"{PREFIX}platform", "CREATE_COMPLETE")])
    _, refused = _judge(facts, plans)
    assert refused == [
        "Refused: webapp-apps-service would create the one service (service:) layout's service stack while "
        "webapp-apps-platform, the several services (services:) layout's, is deployed in this environment: both "
        "hold the cluster and load balancer under the same names. Moving between service: and services: is a new "
        "environment (README, Several services, Day 2): a new params file with another environment name, move "
        "traffic, then destroy this one."
    ]


def test_a_dependency_left_out_by_stack_is_reported_and_refused():
    stacks = _manifest("web")
    plans = [p for p in _plans(stacks, service_web="create") if p.entry.name == "service-web"]
    facts = EnvironmentFacts(
        prefix=PREFIX,
        dependencies=[
            Dependency("service-web", "network", DependencyState.NOT_DEPLOYED),
            Dependency("service-web", "platform", DependencyState.CHANGES),
        ],
    )
    found, refused = _judge(facts, plans, stacks)
    assert found.lines == [
        "webapp-apps-service-web depends on network, left out by --stack, which is not deployed.",
        "webapp-apps-service-web depends on platform, left out by --stack, which has changes.",
    ]
    assert refused == [
        "Refused: webapp-apps-service-web depends on network, left out by --stack, which is not deployed. Add "
        "--stack network (it is applied first), or apply it first: fargate-deploy apply --env apps --stack network.",
        "Refused: webapp-apps-service-web depends on platform, left out by --stack, which has changes in out/ that "
        "are not deployed (its plan is an update). Add --stack platform (it is applied first), or apply it first: "
        "fargate-deploy apply --env apps --stack platform.",
    ]


def test_what_the_refusals_rest_on_is_what_the_elb_api_and_the_resource_schema_say():
    """Independent sources for the premises of deployer.priority_checks: botocore's elbv2 model (CreateRule's
    Priority: one priority per listener; CreateRule and SetRulePriorities fail with PriorityInUse) and the
    ListenerRule schema bundled with cfn-lint (a priority another rule holds is taken in a later update)."""
    import botocore.session
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    elbv2 = botocore.session.get_session().get_service_model("elbv2")
    one_per_listener = "A listener can't have multiple rules with the same priority."
    assert one_per_listener in elbv2.shape_for("CreateRuleInput").members["Priority"].documentation
    for operation in ("CreateRule", "SetRulePriorities"):
        errors = [shape.name for shape in elbv2.operation_model(operation).error_shapes]
        assert "PriorityInUseException" in errors, operation
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("eu-west-1", routing.RULE).schema
    described = " ".join(schema["properties"]["Priority"]["description"].split())
    assert one_per_listener in described
    assert (
        "If you need to reuse a priority with a different rule, you must remove it as a priority first, and then "
        "specify it in a subsequent update." in described
    )


def test_planned_rules_resolve_the_shared_listener_and_the_priority():
    """routing.planned_rules on out/apps/service-web.json: both rules, listener ARNs from the parameters;
    without them (platform not deployed) nothing."""
    entry = out_tree.load(OUT, ENV).by_name("service-web")
    found = routing.planned_rules(entry.stack_name, entry.template, LISTENERS)
    assert found == [
        PlannedRule(f"{PREFIX}service-web", "ProductionListenerRule", "ProductionListenerArn", PROD, 10),
        PlannedRule(f"{PREFIX}service-web", "TestListenerRule", "TestListenerArn", TEST, 10),
    ]
    assert routing.planned_rules(entry.stack_name, entry.template, {}) == []


# --- on the emulator: variants of params/apps.yaml, planned and applied -----------------------------------


def _generate(root: Path, edit, source: str = ENV) -> Path:
    """out/ of params/<source>.yaml (as environment apps) changed by ``edit(data)``; params kept apart
    from out/ (no stale guard: out/ is deployed as it stands)."""
    data = yaml.safe_load((PARAMS / f"{source}.yaml").read_text())
    data["environment"] = ENV
    edit(data)
    params = root / "params-apart"
    params.mkdir(parents=True)
    (params / f"{ENV}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    code = generate_cli.main(["--env", ENV, "--params-dir", str(params), "--out-dir", str(root / "out"), "-q"])
    assert code == 0
    return root / "out"


def _derived(data: dict) -> None:
    for service in data["services"].values():
        service["routing"].pop("priority")


def _service_like(data: dict, model: str, name: str, **changes: Any) -> dict:
    service = copy.deepcopy(data["services"][model])
    service["routing"] = {**service["routing"], "host_headers": [f"{name}.example.com"]}
    service["container_name"] = name
    service["pipeline"]["github_repository"] = f"webapp-{name}"
    service.update(changes)
    return service


def _insert(data: dict) -> None:
    _derived(data)
    web, api = data["services"]["web"], data["services"]["api"]
    data["services"] = {"web": web, "new": _service_like(data, "api", "new"), "api": api}


def _priorities(web: int, api: int):
    def edit(data: dict) -> None:
        data["services"]["web"]["routing"]["priority"] = web
        data["services"]["api"]["routing"]["priority"] = api

    return edit


def _legacy(data: dict) -> None:
    legacy = _service_like(data, "api", "legacy", container_port=8000)
    legacy["routing"]["priority"] = 30
    data["services"]["legacy"] = legacy


@pytest.fixture(scope="module")
def variants(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("variants")
    shutil.copytree(OUT / ENV, root / "committed" / "out" / ENV)  # no params/ beside: no stale guard
    return {
        "committed": root / "committed" / "out",
        "derived": _generate(root / "derived", _derived),
        "insert": _generate(root / "insert", _insert),
        "swap": _generate(root / "swap", _priorities(20, 10)),
        "step1": _generate(root / "step1", _priorities(21, 20)),
        "legacy": _generate(root / "legacy", _legacy),
        "single": _generate(root / "single", lambda data: None, source="dev"),
    }


def _run(capsys, endpoint: str, command: str, out: Path, *stacks: str) -> tuple[int, str]:
    selection = [arg for name in stacks for arg in ("--stack", name)]
    extra = ["--yes"] if command == "apply" else []
    code, stdout, stderr = run_deploy(capsys, endpoint, command, "--env", ENV, *extra, "--out", str(out), *selection)
    return code, stdout + stderr


def _applied(capsys, endpoint: str, out: Path, *stacks: str) -> str:
    code, output = _run(capsys, endpoint, "apply", out, *stacks)
    assert code == 0, output[-4000:]
    return output


def _rules_by_owner(endpoint: str) -> dict[str, set[str]]:
    """stack short name -> the priorities of its rules on the shared listeners (DescribeRules, ListStackResources)."""
    cfn, elbv2 = client(endpoint), client(endpoint, "elbv2")
    outputs = cfn.describe_stacks(StackName=f"{PREFIX}platform")["Stacks"][0]["Outputs"]
    listeners = [o["OutputValue"] for o in outputs if o["OutputKey"] in LISTENERS]
    priority = {
        r["RuleArn"]: r["Priority"] for arn in listeners for r in elbv2.describe_rules(ListenerArn=arn)["Rules"]
    }
    owners: dict[str, set[str]] = {}
    for stack in cfn.describe_stacks()["Stacks"]:
        for resource in cfn.list_stack_resources(StackName=stack["StackName"])["StackResourceSummaries"]:
            if resource["ResourceType"] == routing.RULE:
                short = stack["StackName"][len(PREFIX) :]
                owners.setdefault(short, set()).add(priority.pop(resource["PhysicalResourceId"]))
    assert set(priority.values()) == {"default"}  # every other rule belongs to a stack
    return owners


def _reset(endpoint: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()


def _stack_states(endpoint: str) -> str:
    cfn = client(endpoint)
    return json.dumps(
        [
            (s["StackName"], s.get("LastUpdatedTime"), cfn.get_template(StackName=s["StackName"])["TemplateBody"])
            for s in cfn.describe_stacks()["Stacks"]
        ],
        default=str,
        sort_keys=True,
    )


@pytest.mark.deploy
def test_moto_enforces_unique_priorities_but_ignores_a_priority_update_gap_29(moto, variants, capsys):
    """What the emulator tests below rely on. moto 5.2.5 refuses a second rule on a priority (CreateRule,
    SetRulePriorities: PriorityInUse), as ALB does. Gap 29: a stack update that changes a rule's Priority
    leaves the rule where it was (raw UpdateStack, no deployer involved); this test fails once moto sets it."""
    _applied(capsys, moto, variants["committed"])
    elbv2, cfn = client(moto, "elbv2"), client(moto)
    outputs = cfn.describe_stacks(StackName=f"{PREFIX}platform")["Stacks"][0]["Outputs"]
    listener = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "ProductionListenerArn")
    rules = {r["Priority"]: r["RuleArn"] for r in elbv2.describe_rules(ListenerArn=listener)["Rules"]}
    with pytest.raises(elbv2.exceptions.PriorityInUseException):
        elbv2.create_rule(
            ListenerArn=listener,
            Priority=10,
            Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["x.example.com"]}}],
            Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
        )
    with pytest.raises(elbv2.exceptions.PriorityInUseException):
        elbv2.set_rule_priorities(RulePriorities=[{"RuleArn": rules["20"], "Priority": 10}])

    entry = out_tree.load(OUT, ENV).by_name("service-api")
    template = copy.deepcopy(entry.template)
    for rule in RULES.values():
        template["Resources"][rule]["Properties"]["Priority"] = 30
    stack = normalise_stack(cfn.describe_stacks(StackName=entry.stack_name)["Stacks"][0]) or {}
    cfn.update_stack(  # the same parameter values (moto answers HTTP 500 to UsePreviousValue on a defaulted one)
        StackName=entry.stack_name,
        TemplateBody=template_for_emulator(template, entry.region),
        Parameters=[
            {"ParameterKey": p["ParameterKey"], "ParameterValue": p["ParameterValue"]} for p in stack["Parameters"]
        ],
        Capabilities=entry.capabilities,
    )
    assert cfn.describe_stacks(StackName=entry.stack_name)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    template_now = cfn.get_template(StackName=entry.stack_name)["TemplateBody"]  # botocore parses JSON bodies
    assert template_now["Resources"]["ProductionListenerRule"]["Properties"]["Priority"] == 30
    assert elbv2.describe_rules(RuleArns=[rules["20"]])["Rules"][0]["Priority"] == "20"  # gap 29


@pytest.mark.deploy
def test_a_service_inserted_between_two_is_applied_after_the_one_that_frees_its_priority(moto, variants, capsys):
    """Derived priorities web 10, api 20; then `new` inserted between them: web 10, new 20, api 30. new's rules
    take 20 while api's update moves off it; the deployer runs service-new after service-api (on the
    emulator with gap 29 closed, as on AWS, running them at once fails with PriorityInUse). With --stack
    service-new alone, api's rules would not move first: refused before anything runs."""
    _applied(capsys, moto, variants["derived"])
    assert _rules_by_owner(moto) == {"service-web": {"10"}, "service-api": {"20"}}
    before = _stack_states(moto)

    code, output = _run(capsys, moto, "apply", variants["insert"], "service-new", "pipeline-new")
    assert code == 1
    assert (
        "Refused: webapp-apps-service-new would give ProductionListenerRule priority 20 on listener "
        "ProductionListenerArn (" in output
    )
    assert (
        "which webapp-apps-service-api's ProductionListenerRule holds now (out/ moves it to 30); that stack is left "
        "out by --stack, so the rule would not move first. Add --stack service-api (it is applied first), or apply "
        "it first: fargate-deploy apply --env apps --stack service-api." in output
    )
    assert "executing" not in output and _stack_states(moto) == before

    code, output = _run(capsys, moto, "plan", variants["insert"])
    assert code == 0, output
    assert INSERT_ORDER in output and "apply would refuse" not in output

    output = _applied(capsys, moto, variants["insert"])
    assert INSERT_ORDER in output
    assert output.index("== webapp-apps-service-api: UPDATE_COMPLETE ==") < output.index(
        "== webapp-apps-service-new: executing"
    )
    assert (
        "emulator: moto ignores a listener rule's new Priority in a stack update (gap 29); set now with "
        "SetRulePriorities, as CloudFormation does: ProductionListenerRule 20 → 30, TestListenerRule 20 → 30"
    ) in output
    assert _rules_by_owner(moto) == {"service-web": {"10"}, "service-new": {"20"}, "service-api": {"30"}}


@pytest.mark.deploy
def test_swapped_priorities_are_refused_then_applied_in_the_two_steps_it_names(moto, variants, capsys):
    """web 10 ↔ api 20 in one generate: refused (exit 1, nothing executed, every stack as it was). The named
    procedure: web to a free priority first (21), then the swap, which is now an order: web after api."""
    _applied(capsys, moto, variants["committed"])
    before = _stack_states(moto)
    code, output = _run(capsys, moto, "apply", variants["swap"])
    assert code == 1
    assert SWAP_REFUSAL in output
    assert "executing" not in output and _stack_states(moto) == before

    _applied(capsys, moto, variants["step1"])
    assert _rules_by_owner(moto) == {"service-web": {"21"}, "service-api": {"20"}}
    output = _applied(capsys, moto, variants["swap"])
    assert "Order: webapp-apps-service-web runs after webapp-apps-service-api" in output
    assert _rules_by_owner(moto) == {"service-web": {"20"}, "service-api": {"10"}}


@pytest.mark.deploy
def test_a_removed_services_stacks_are_reported_and_block_the_platform_update(moto, variants, capsys):
    """legacy (container port 8000, the only one: the platform opens load balancer egress to it) is deployed,
    then removed from params before its stacks were destroyed: plan reports both stacks; apply refuses the
    platform's update (which would drop that egress) before anything runs."""
    _applied(capsys, moto, variants["legacy"])
    before = _stack_states(moto)
    code, output = _run(capsys, moto, "plan", variants["committed"])
    assert code == 0, output
    assert "== webapp-apps-platform (eu-west-1): update ==" in output
    report = next(line for line in output.splitlines() if line.startswith("Deployed but not in out/apps: "))
    assert report.startswith("Deployed but not in out/apps: webapp-apps-pipeline-legacy (")
    assert "), webapp-apps-service-legacy (" in report
    assert report.endswith(") — destroy them with the previous out/, or restore their params.")
    refusal = (
        "webapp-apps-platform would update the shared platform while webapp-apps-service-legacy, not in out/apps, "
        "is deployed: the platform opens only the ports and egress of the services in out/, so this update may "
        "drop what that service still serves through. Destroy it first with the out/ that deployed it "
        "(fargate-deploy destroy --env apps --stack pipeline-legacy --stack service-legacy --out-dir "
        "PREVIOUS_OUT), or restore its service in params/apps.yaml and generate again."
    )
    assert f"apply would refuse: {refusal}" in output
    code, output = _run(capsys, moto, "apply", variants["committed"])
    assert code == 1 and f"Refused: {refusal}" in output
    assert "executing" not in output and _stack_states(moto) == before


@pytest.mark.deploy
def test_a_stack_subset_needs_its_dependencies_deployed_and_up_to_date(moto, variants, capsys):
    """--stack service-web on an empty account: network and platform are not deployed, refused (nothing is
    created). Then, with legacy added to params (a new container port: the platform changes), --stack
    service-legacy alone is refused until platform is selected too."""
    code, output = _run(capsys, moto, "apply", variants["committed"], "service-web")
    assert code == 1
    for name in ("network", "platform"):
        assert (
            f"Refused: webapp-apps-service-web depends on {name}, left out by --stack, which is not deployed. Add "
            f"--stack {name} (it is applied first), or apply it first: fargate-deploy apply --env apps --stack "
            f"{name}." in output
        )
    assert client(moto).describe_stacks()["Stacks"] == []

    _applied(capsys, moto, variants["committed"])
    code, output = _run(capsys, moto, "apply", variants["legacy"], "service-legacy")
    assert code == 1
    assert (
        "Refused: webapp-apps-service-legacy depends on platform, left out by --stack, which has changes in out/ "
        "that are not deployed (its plan is an update). Add --stack platform (it is applied first)" in output
    )
    output = _applied(capsys, moto, variants["legacy"], "platform", "service-legacy")
    assert output.index("== webapp-apps-platform: UPDATE_COMPLETE ==") < output.index(
        "== webapp-apps-service-legacy: executing"
    )


@pytest.mark.deploy
def test_moving_between_the_two_layouts_is_refused_both_ways(moto, variants, capsys):
    """The single-service layout of environment apps (params/dev.yaml renamed) is deployed: the several-services
    out/apps cannot create its platform beside it. And the other way round on a fresh emulator."""
    _applied(capsys, moto, variants["single"])
    before = _stack_states(moto)
    code, output = _run(capsys, moto, "apply", variants["committed"])
    assert code == 1
    assert (
        "Refused: webapp-apps-platform would create the several services (services:) layout's platform stack while "
        "webapp-apps-service, the one service (service:) layout's, is deployed in this environment" in output
    )
    assert "executing" not in output and _stack_states(moto) == before

    _reset(moto)
    _applied(capsys, moto, variants["committed"])
    code, output = _run(capsys, moto, "apply", variants["single"])
    assert code == 1
    assert (
        "Refused: webapp-apps-service would create the one service (service:) layout's service stack while "
        "webapp-apps-platform, the several services (services:) layout's, is deployed in this environment" in output
    )
