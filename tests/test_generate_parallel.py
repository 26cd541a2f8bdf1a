"""Several environments built at once (blueprints/parallel.py): the same files as one after another,
failures reported from the process they happened in, no child left behind."""

from __future__ import annotations

import os

import pytest
from troposphere import Template

from blueprints import cli, encode, environment, parallel
from blueprints.config import load_environment
from tests.helpers import PARAMS, generate


@pytest.fixture
def forked(monkeypatch) -> list[int]:
    """The pids of the workers forked during the test (other children of the test process, such as a
    moto server the session started, are not ours to wait for)."""
    pids: list[int] = []
    real_fork = os.fork

    def recording_fork() -> int:
        pid = real_fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", recording_fork)
    return pids


def _all_reaped(pids: list[int]) -> bool:
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        return False
    return True


def _double(n: int) -> int:
    return 2 * n


def test_results_come_back_in_order_from_every_worker(forked):
    items = list(range(11))
    assert parallel.build_each(_double, items, weight=lambda n: n % 4 + 1, jobs=3) == [2 * n for n in items]
    assert len(forked) == 2 and _all_reaped(forked)


def test_shares_are_balanced_by_weight_and_cover_every_index_once():
    weights = [0, 9, 1, 1, 1, 1, 1, 1, 1, 1]
    shares = parallel._shares(list(range(1, 10)), weights, 2)
    assert sorted(i for share in shares for i in share) == list(range(1, 10))
    assert [sum(weights[i] for i in share) for share in shares] == [9, 8]


def _fails_in_child(n: int) -> int:
    if n == 5:
        raise ValueError("cannot build item 5")
    return n


def test_a_failure_in_a_worker_is_raised_with_its_type_and_traceback(forked):
    # The heaviest item (1) goes to the parent's share, the next heaviest (5) to the child's.
    weights = {1: 10, 5: 9}
    assert 5 in parallel._shares(list(range(1, 8)), [weights.get(n, 1) for n in range(8)], 2)[1]
    with pytest.raises(ValueError, match="cannot build item 5") as raised:
        parallel.build_each(_fails_in_child, list(range(8)), weight=lambda n: weights.get(n, 1), jobs=2)
    assert isinstance(raised.value.__cause__, parallel.WorkerError)
    assert "_fails_in_child" in str(raised.value.__cause__)
    assert forked and _all_reaped(forked)


def _fails_in_parent(n: int) -> int:
    if n == 7 and os.getpid() == PARENT:
        raise KeyError("parent share")
    return n


PARENT = os.getpid()


def test_a_failure_in_the_parent_reaps_every_child(forked):
    with pytest.raises(KeyError):
        parallel.build_each(_fails_in_parent, list(range(8)), weight=lambda n: 10 if n == 7 else 1, jobs=2)
    assert forked and _all_reaped(forked)


def test_every_environment_is_the_same_built_at_once_or_one_after_another(forked):
    paths = sorted(PARAMS.glob("*.yaml"))
    assert len(paths) >= 3
    assert cli.build_all(paths, jobs=2) == cli.build_all(paths, jobs=1)
    assert len(forked) == 1 and _all_reaped(forked)


def test_jobs_must_be_a_positive_whole_number():
    result = generate("--check", "--jobs", "0")
    assert result.returncode == 2
    assert "--jobs" in result.stderr and "1 or more" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("path", sorted(PARAMS.glob("*.yaml")), ids=lambda p: p.stem)
def test_the_single_pass_encoder_equals_troposphere_on_every_template(path):
    # The oracle is troposphere 4.11.1's own Template.to_dict (blueprints/encode.py replaces it).
    for stack in environment.stacks(load_environment(path, path.name)):
        ours = stack.template.to_dict()  # also adds the parameter groups to Metadata
        theirs = Template.to_dict(stack.template)
        assert {k: v for k, v in ours.items() if k != "Hooks"} == theirs
        assert encode.template(stack.template) == theirs


def _small_template() -> Template:
    from awacs import aws, sts
    from troposphere import GetAtt, Join, Ref, Sub, Tags, cloudformation, iam, sns, sqs

    t = Template(Description="encoder cases")
    queue = t.add_resource(sqs.Queue("Queue", Tags=Tags(Team="web", Tier="1")))
    t.add_resource(sns.Topic("Bare", DependsOn=[queue]))  # no Properties at all
    t.add_resource(cloudformation.WaitConditionHandle("Handle"))
    t.add_resource(
        iam.Role(
            "Role",
            AssumeRolePolicyDocument=aws.PolicyDocument(
                Version="2012-10-17",
                Statement=[aws.Statement(Effect=aws.Allow, Action=[sts.AssumeRole], Principal=aws.Principal("*"))],
            ),
            Policies=[iam.Policy(PolicyName="p", PolicyDocument={"Statement": [{"Resource": GetAtt(queue, "Arn")}]})],
            Path=Join("", ["/", Sub("${AWS::StackName}"), "/"]),
            Description=Ref("AWS::StackName"),
        )
    )
    return t


def test_the_encoder_covers_tags_policies_helpers_and_resources_without_properties():
    t = _small_template()
    assert encode.template(t) == t.to_dict()


def test_the_encoder_validates_like_troposphere():
    from troposphere import iam

    t = Template()
    t.add_resource(iam.Role("Role", AssumeRolePolicyDocument={}, Policies=[iam.Policy(PolicyName="no-document")]))
    with pytest.raises(ValueError) as theirs:
        t.to_dict()
    with pytest.raises(ValueError) as ours:
        encode.template(t)
    assert str(ours.value) == str(theirs.value)
