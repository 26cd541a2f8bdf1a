"""The widening gate: access changes (IAM grants, security-group ingress) between the deployed template
and out/'s, with parameters resolved (deployer.widening, pure); plan shows them, apply refuses a widening
update with exit 2 unless --allow-widening, and asks about it separately when interactive."""

from __future__ import annotations

import copy

import pytest

from deployer import USAGE, commands, widening
from deployer.changesets import Options
from deployer.context import Context
from deployer.manifest import Manifest
from deployer.plans import Plan
from deployer.reporter import Reporter
from tests.helpers import fast_waiter as _fast_waiter
from tests.helpers import stub_client as _cfn
from tests.helpers import update_plan, variant
from tests.test_day2 import _Aws

SECRET = {
    r"^  environment:\n    APP_ENV: dev": (
        "  environment:\n    APP_ENV: dev\n  secrets:\n"
        "    DB_PASSWORD: arn:aws:secretsmanager:eu-west-1:111122223333:secret:webapp/dev/db-AbCdEf"
    )
}
NARROW = {r"^  allowed_cidrs: \[0.0.0.0/0\]": "  allowed_cidrs: [203.0.113.0/24]"}
TEST_CIDRS = {r"^  test_allowed_cidrs: \[\]": "  test_allowed_cidrs: [198.51.100.0/24]"}


def _role(*statements):
    return {
        "Parameters": {"VpcCidr": {"Type": "String"}},
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": list(statements)}}]},
            }
        },
    }


def _allow(actions, resources, condition=None):
    found = {"Effect": "Allow", "Action": actions, "Resource": resources}
    return {**found, "Condition": condition} if condition else found


def _sg(*rules):
    return {
        "Parameters": {"VpcCidr": {"Type": "String"}},
        "Resources": {"Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"SecurityGroupIngress": list(rules)}}},
    }


def _tcp(low, high, cidr):
    return {"IpProtocol": "tcp", "FromPort": low, "ToPort": high, "CidrIp": cidr}


def _compare(old, new, old_params=None, new_params=None):
    return widening.access_changes(old, new, old_params or {}, new_params or {})


def _wider(changes):
    return [c.what for c in changes if c.kind == widening.WIDER]


def test_an_added_action_widens():
    old = _role(_allow(["s3:GetObject"], ["arn:aws:s3:::b/*"]))
    new = _role(_allow(["s3:GetObject", "s3:PutObject"], ["arn:aws:s3:::b/*"]))
    assert _wider(_compare(old, new)) == ["inline policies: Allow + actions s3:putobject on arn:aws:s3:::b/*"]
    assert widening.widens(_compare(old, new))


def test_an_added_resource_widens_but_one_a_wildcard_covers_does_not():
    old = _role(_allow("s3:GetObject", "arn:aws:s3:::b/*"))
    new = _role(_allow("s3:GetObject", ["arn:aws:s3:::b/*", "arn:aws:s3:::other/*"]))
    assert _wider(_compare(old, new)) == ["inline policies: Allow + resources arn:aws:s3:::other/* for s3:getobject"]
    covered = _role(_allow("s3:GetObject", ["arn:aws:s3:::b/logs/*"]))
    assert not widening.widens(_compare(old, covered))


def test_a_dropped_condition_widens():
    condition = {"StringEquals": {"aws:SourceAccount": "111122223333"}}
    old = _role(_allow("sts:AssumeRole", "*", condition))
    new = _role(_allow("sts:AssumeRole", "*"))
    assert _wider(_compare(old, new)) == [
        "inline policies: Allow condition dropped or loosened (StringEquals aws:SourceAccount) on sts:assumerole"
    ]
    more_values = _role(_allow("sts:AssumeRole", "*", {"StringEquals": {"aws:SourceAccount": ["111122223333", "4"]}}))
    assert widening.widens(_compare(old, more_values))


def test_a_wider_cidr_widens_with_parameters_resolved():
    template = _sg({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": {"Ref": "VpcCidr"}})
    changes = _compare(template, template, {"VpcCidr": "10.20.0.0/16"}, {"VpcCidr": "10.0.0.0/8"})
    assert _wider(changes) == ["ingress tcp port 443: 10.20.0.0/16 -> 10.0.0.0/8 (covers more addresses)"]
    same = _compare(template, template, {"VpcCidr": "10.20.0.0/16"}, {"VpcCidr": "10.20.0.0/16"})
    assert same == []


def test_a_wider_port_range_widens():
    changes = _compare(_sg(_tcp(80, 80, "10.0.0.0/8")), _sg(_tcp(80, 443, "10.0.0.0/8")))
    assert _wider(changes) == ["ingress tcp from 10.0.0.0/8: port 80 -> ports 80-443 (wider port range)"]


def test_narrowing_is_shown_and_never_blocks():
    old = _role(_allow(["s3:GetObject", "s3:PutObject"], "*"))
    new = _role(_allow(["s3:GetObject"], "arn:aws:s3:::b/*"))
    changes = _compare(old, new)
    assert changes and not widening.widens(changes)
    assert {c.kind for c in changes} == {widening.NARROWER}
    sg = _compare(_sg(_tcp(0, 65535, "0.0.0.0/0")), _sg(_tcp(443, 443, "10.0.0.0/8")))
    assert sg and not widening.widens(sg)


def test_resource_policies_lambda_permissions_and_standalone_ingress():
    bucket = {
        "Resources": {
            "BucketPolicy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {
                    "Bucket": "b",
                    "PolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                                "Action": "s3:GetObject",
                                "Resource": "arn:aws:s3:::b/*",
                            }
                        ]
                    },
                },
            }
        }
    }
    wider = copy.deepcopy(bucket)
    wider["Resources"]["BucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Principal"]["AWS"] = [
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::444455556666:root",
    ]
    assert _wider(_compare(bucket, wider)) == ["policy: Allow + principals AWS:arn:aws:iam::444455556666:root"]

    permission = {
        "Resources": {
            "Invoke": {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": "f",
                    "Principal": "events.amazonaws.com",
                    "SourceArn": "arn:aws:events:eu-west-1:111122223333:rule/r",
                },
            }
        }
    }
    open_permission = copy.deepcopy(permission)
    del open_permission["Resources"]["Invoke"]["Properties"]["SourceArn"]
    assert _wider(_compare(permission, open_permission)) == [
        "permission: Allow condition dropped or loosened (ArnLike AWS:SourceArn) on lambda:invokefunction"
    ]

    ingress = {
        "Resources": {
            "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {}},
            "Extra": {
                "Type": "AWS::EC2::SecurityGroupIngress",
                "Properties": {"GroupId": {"Fn::GetAtt": ["Sg", "GroupId"]}, **_tcp(22, 22, "0.0.0.0/0")},
            },
        }
    }
    assert _wider(_compare({"Resources": {"Sg": ingress["Resources"]["Sg"]}}, ingress)) == [
        "ingress tcp port 22 from 0.0.0.0/0 (new rule)"
    ]


def test_a_create_is_listed_and_never_blocks():
    changes = _compare(None, _sg(_tcp(80, 80, "0.0.0.0/0")))
    assert [c.kind for c in changes] == [widening.CREATE] and not widening.widens(changes)
    assert "(a create: listed, not gated)" in widening.access_lines(changes)[0]


# --- generated templates: out/dev against a variant of params/dev.yaml -----------------------


def test_a_new_secret_widens_the_execution_role(tmp_path):
    plan = update_plan("dev", "service", variant(tmp_path, "dev", SECRET))
    changes = widening.plan_changes(plan)
    assert [(c.logical_id, c.kind) for c in changes] == [("TaskExecutionRole", widening.WIDER)]
    assert "secretsmanager:getsecretvalue" in changes[0].what and "webapp/dev/db-AbCdEf" in changes[0].what
    assert any("!! wider" in line for line in widening.access_lines(changes))


def test_wider_allowed_cidrs_and_a_new_test_cidr_widen_the_load_balancer(tmp_path):
    narrow = update_plan("dev", "service", variant(tmp_path / "narrow", "dev", NARROW))
    assert not widening.widens(widening.plan_changes(narrow))  # out/dev -> 203.0.113.0/24: narrower
    back = Plan(
        **{**narrow.__dict__, "deployed_template": narrow.sent_template, "sent_template": narrow.deployed_template}
    )
    assert _wider(widening.plan_changes(back)) == [
        "ingress tcp port 80: 203.0.113.0/24 -> 0.0.0.0/0 (covers more addresses)"
    ]
    test = update_plan("dev", "service", variant(tmp_path / "test", "dev", TEST_CIDRS))
    assert _wider(widening.plan_changes(test)) == ["ingress tcp port 8080 from 198.51.100.0/24 (new rule)"]


# --- plan and apply --------------------------------------------------------------------------


def _ctx(plans, monkeypatch, **options):
    ctx = Context(
        Manifest("dev", None, [p.entry for p in plans], [p.entry for p in plans]),
        _Aws(_cfn(), None),
        Options(**options),
        _fast_waiter(),
        yes=True,
        reporter=Reporter(),
    )
    by_name = {p.entry.name: p for p in plans}
    monkeypatch.setattr(commands, "_plan_one", lambda ctx, entry: by_name[entry.name])
    discarded: list[str] = []
    ctx.planner.discard = lambda p, force=False: discarded.append(p.entry.name)  # type: ignore[method-assign]
    executed: list[str] = []
    monkeypatch.setattr(commands, "execute_all", lambda ctx, run: executed.extend(p.entry.name for p in run) or 0)
    return ctx, discarded, executed


@pytest.fixture(scope="module")
def secret_out(tmp_path_factory):
    return variant(tmp_path_factory.mktemp("secret"), "dev", SECRET)


def test_apply_yes_refuses_widening_with_exit_2_and_proceeds_with_allow_widening(secret_out, monkeypatch, capsys):
    ctx, discarded, executed = _ctx([update_plan("dev", "service", secret_out)], monkeypatch)
    assert commands.apply(ctx) == USAGE
    out = capsys.readouterr().out
    assert "Refused: webapp-dev-service would widen access" in out and "--allow-widening" in out
    assert "!! wider  TaskExecutionRole" in out and discarded == ["service"] and executed == []

    ctx, discarded, executed = _ctx([update_plan("dev", "service", secret_out)], monkeypatch, allow_widening=True)
    assert commands.apply(ctx) == 0 and executed == ["service"] and discarded == []


def test_interactive_apply_asks_about_widening_separately(secret_out, monkeypatch, capsys):
    ctx, discarded, executed = _ctx([update_plan("dev", "service", secret_out)], monkeypatch)
    ctx.yes = False
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    asked: list[str] = []
    answers = iter(["n"])
    monkeypatch.setattr("builtins.input", lambda q: asked.append(q) or next(answers))
    assert commands.apply(ctx) == 0 and executed == [] and discarded == ["service"]
    assert asked == ["webapp-dev-service would widen access (marked !! wider above). Widen it? [y/N] "]

    answers = iter(["y", "y"])
    asked.clear()
    ctx, discarded, executed = _ctx([update_plan("dev", "service", secret_out)], monkeypatch)
    ctx.yes = False
    assert commands.apply(ctx) == 0 and executed == ["service"] and len(asked) == 2


def test_plan_shows_the_table_and_what_apply_would_refuse(secret_out, monkeypatch, capsys):
    ctx, _, _ = _ctx([update_plan("dev", "service", secret_out)], monkeypatch)
    assert commands.plan(ctx) == 0
    out = capsys.readouterr().out
    assert "  Access changes:" in out and "!! wider  TaskExecutionRole" in out
    assert "apply would refuse without --allow-widening: webapp-dev-service" in out
