"""EMULATOR SUPPORT, used only with --local / --local-endpoint: moto 5.2.5 on 127.0.0.1.

moto is not CloudFormation. Each numbered gap below is one way moto 5.2.5 (pinned in setup.cfg)
differs from it, closed by ``EmulatorProvider``, the deployment target the commands get for the
emulator; tests/test_deploy_emulator.py has, per gap, a test that shows moto's raw behaviour still
needs the workaround. None of this code runs against AWS.

Gaps 13-18 are the release path's (deployer.rehearsal_emulator). Day-2 gaps, each with a test in
tests/test_deploy_day2.py that fails once moto no longer has it:

19. A change set runs although another run replaced its stack meanwhile (CloudFormation refuses it,
    InvalidChangeSetStatus): closed by ``guard_obsolete_create``.
20. No drift detection (DetectStackDrift answers HTTP 500): ``drift`` reports the emulator's failure;
    drift is tested with botocore's Stubber.
21. Tag changes are ignored in change sets (a tags-only UPDATE change set is FAILED with no changes,
    and the stack keeps its old tags): not closed; tags reach AWS only.
22. Termination protection is not enforced (DeleteStack deletes a protected stack): not closed; the
    deployer's own refusal (destroy reads EnableTerminationProtection) still applies.
23. After a change set modifies an AWS::Logs::LogGroup, a Ref to it resolves to nothing and
    DescribeStacks drops every Output: not closed (tests/test_deploy_emulator.py shows it; the deploy
    tests avoid such outputs).
25. ImportExistingResources is ignored (deployer.retention): re-create after destroy is shown on AWS only.
26. No DescribeChangeSetHooks: plan shows the change set's hooks on AWS only.
27. An HTTPS listener's ACM certificate must exist on the emulator: a stand-in is requested there and
    named in the template sent to it (``EmulatorProvider._stand_in_certificate``).
28. DeleteStack leaves a stack's ECS services, task definitions, listener rules and target groups in place
    (on a shared listener the rules keep routing; re-creating the stack fails): closed by
    ``EmulatorProvider.deletion_leftovers``/``remove_leftovers`` (deployer.emulator_leftovers).
29. A stack update ignores a listener rule's new Priority: closed by ``complete_execution``
    (SetRulePriorities, PriorityInUse reported as CloudFormation does; deployer.emulator_rules).
30. Every template body is parsed as YAML first (pure Python: most of moto's CPU in an apply), JSON
    only when that fails: the body sent starts with a tab, which YAML rejects and JSON allows
    (deployer.emulator_templates.body_for_emulator; its test is in tests/test_deploy_parallel_emulator.py,
    with the one that leaves gap 2's refresh out where the emulator computed a created stack's Outputs).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from typing import Any

from botocore.exceptions import ClientError

from .aws import Aws, describe_stack, error_code, error_message
from .emulator_leftovers import deletion_leftovers, remove_leftovers
from .emulator_rules import set_priorities
from .emulator_templates import UNMODELLED_TYPES as UNMODELLED_TYPES
from .emulator_templates import body_for_emulator, unmodelled
from .emulator_templates import certificate_arns as certificate_arns
from .emulator_templates import template_for_emulator as template_for_emulator
from .manifest import StackEntry
from .provider import ExecuteFailure

MOTO_VERSION = "5.2.5"
# The emulator accepts any credentials; fixed fake ones guarantee real ones are never sent to it.
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": "testing"}
# moto's UpdateStack/CreateChangeSet error for an identical re-submit (AWS instead returns a FAILED change set).
NO_UPDATES = "No updates are to be performed"
# Gap 11: moto 5.2.5 has no UpdateTerminationProtection (it answers HTTP 500).
NO_TERMINATION_PROTECTION = "moto does not implement UpdateTerminationProtection"
OBSOLETE_CHANGE_SET = "InvalidChangeSetStatus"


def _installed_version(name: str) -> str | None:
    """A distribution's version from its .dist-info folder's name beside the package, or None: what
    importlib.metadata.version says, without reading every installed distribution (~10 ms of a command
    that prints the emulator banner). blueprints.fastpath and lintgate.cli read theirs the same way, but
    the deployer may not import the first (tests/test_layout.py) and has no use for the lint gate."""
    from importlib.util import find_spec

    spec = find_spec(name)
    if spec is None or not spec.origin:
        return None
    folder = os.path.dirname(os.path.dirname(spec.origin))
    for entry in sorted(os.listdir(folder)):
        if entry.endswith(".dist-info") and entry.split("-", 1)[0].lower() == name:
            return entry[len(name) + 1 : -len(".dist-info")]
    from importlib import metadata  # not laid out as pip installs a wheel (an egg, an editable install)

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def version_note() -> str | None:
    installed = _installed_version("moto")
    if installed is None:
        return None
    if installed != MOTO_VERSION:
        return f"note: emulator support was written for moto {MOTO_VERSION}; moto {installed} is installed"
    return None


# Template adaptation (gaps 1, 7, 8, 10, 12 and 30) is deployer.emulator_templates'.

# Runtime gaps 2, 3, 4, 5, 6, 9 and 11: closed around the API calls.


def refresh_outputs(cfn: Any, stack_id: str, capabilities: list[str]) -> None:
    """Gap 2: after ExecuteChangeSet moto keeps the Outputs of the stack's previous template
    (none after a create). A no-op UpdateStack with the same template makes it recompute them;
    as a side effect moto then reports UPDATE_COMPLETE."""
    try:
        cfn.update_stack(StackName=stack_id, UsePreviousTemplate=True, Capabilities=capabilities)
    except Exception as exc:
        if NO_UPDATES not in str(exc):
            raise


def outputs_current(stack: dict[str, Any], template: dict[str, Any]) -> bool:
    """Whether gap 2's refresh can be left out: a created stack that has Outputs computed them from its
    one template, which happens when the emulator computes them on ExecuteChangeSet itself (the hand-off
    emulator, tests/moto_server_patches.py); so does a created stack whose template declares none.
    After an update the Outputs may be the previous template's: those are always refreshed."""
    if stack["StackStatus"] != "CREATE_COMPLETE":
        return False
    return bool(stack.get("Outputs")) or not template.get("Outputs")


def is_no_updates(exc: Exception) -> bool:
    """Gap 3: an identical re-submit makes moto's CreateChangeSet fail with this error."""
    return NO_UPDATES in str(exc)


def execute_failure(exc: Exception) -> str:
    """Gap 4: a failing resource makes moto's ExecuteChangeSet itself fail; the stack stays in
    REVIEW_IN_PROGRESS (no rollback, no per-resource events). Its message is the only reason."""
    return str(exc).split(": ", 1)[-1]


def forget_review_stack(cfn: Any, stack: dict[str, Any]) -> None:
    """Gap 5: for a stack left in REVIEW_IN_PROGRESS, moto's CREATE change set makes a second stack
    of the same name instead of reusing it. Delete the empty stack first."""
    cfn.delete_stack(StackName=stack["StackId"])


def normalise_stack(stack: dict[str, Any] | None) -> dict[str, Any] | None:
    """Gap 9: moto reports a CommaDelimitedList parameter as a Python list, "['a', 'b']", where
    CloudFormation returns the string it was given, "a,b"."""
    if not stack:
        return stack
    for parameter in stack.get("Parameters", []):
        value = parameter.get("ParameterValue", "")
        if value.startswith("[") and value.endswith("]"):
            try:
                items = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                continue
            if isinstance(items, list):
                parameter["ParameterValue"] = ",".join(str(i) for i in items)
    return stack


def guard_obsolete_create(cfn: Any) -> None:
    """Gap 19: moto 5.2.5 lets a change set run whose stack another run has replaced meanwhile (with
    gap 5's workaround, a second apply deletes the first one's REVIEW_IN_PROGRESS stack and creates its
    own); executing it then fails on duplicate resources or answers HTTP 500. CloudFormation refuses
    such a change set (InvalidChangeSetStatus: it is obsolete, or its stack is busy). Refuse it the
    same way before the call, naming the stack, its status and what to do."""

    # A change set's stack and name never change: what the planner's DescribeChangeSet showed (on this
    # client) serves here, which leaves one DescribeStacks per execution.
    seen: dict[str, dict[str, str]] = {}

    def remember(parsed: dict[str, Any], **_: Any) -> None:
        if all(parsed.get(k) for k in ("ChangeSetId", "ChangeSetName", "StackName", "StackId")):
            seen[parsed["ChangeSetId"]] = {k: parsed[k] for k in ("ChangeSetName", "StackName", "StackId")}

    def before_execute(params: dict[str, Any], **_: Any) -> None:
        named = {k: params[k] for k in ("ChangeSetName", "StackName") if k in params}
        described = seen.get(named["ChangeSetName"]) if list(named) == ["ChangeSetName"] else None
        described = described or cfn.describe_change_set(**named)
        current = describe_stack(cfn, described["StackName"])
        if current is None or current["StackId"] == described["StackId"]:
            return
        message = (
            f"{described['StackName']} is now {current['StackStatus']}: another run (perhaps another fargate-deploy "
            f"apply) created it while this one was planning, so this run's change set {described['ChangeSetName']} "
            "is obsolete (CloudFormation answers InvalidChangeSetStatus). This run changed nothing on it; see "
            "`fargate-deploy status`, then run this command again."
        )
        raise ClientError({"Error": {"Code": OBSOLETE_CHANGE_SET, "Message": message}}, "ExecuteChangeSet")

    cfn.meta.events.register("after-call.cloudformation.DescribeChangeSet", remember)
    cfn.meta.events.register("before-parameter-build.cloudformation.ExecuteChangeSet", before_execute)


class EmulatorProvider:
    """moto 5.2.5 at ``endpoint``, with every gap above closed (see deployer.provider.Provider).
    ``ephemeral``: the emulator was started by this command (--local) and stops with it."""

    def change_set_hooks(self, cfn: Any, change_set_id: str) -> list[str]:
        """Gap 26: moto 5.2.5 has no DescribeChangeSetHooks (and runs no CloudFormation Hooks)."""
        return []

    def __init__(self, endpoint: str, ephemeral: bool = False):
        self.endpoint, self.ephemeral = endpoint, ephemeral
        self._stand_ins: dict[tuple[str, str], str] = {}  # (certificate ARN, region) -> the emulator's
        self._bodies: dict[tuple[int, str], tuple[dict[str, Any], str]] = {}  # (id(template), region) -> body

    def clients(self, profile: str | None) -> Aws:
        # No profile: the emulator must never be sent real credentials.
        aws = Aws(endpoint_url=self.endpoint, credentials=FAKE_CREDENTIALS, emulator=True)
        aws.client_hooks.append(
            lambda service, client: guard_obsolete_create(client) if service == "cloudformation" else None
        )
        return aws

    def announcement(self) -> str | None:
        note = version_note()
        return (
            f"LOCAL EMULATOR: deploying to moto at {self.endpoint}, not to AWS. It creates some resources for real "
            "and only pretends others; nothing reaches an AWS account." + (f"\n{note}" if note else "")
        )

    def describe_stack(self, cfn: Any, name_or_id: str) -> dict[str, Any] | None:
        return normalise_stack(describe_stack(cfn, name_or_id))

    def prepare_template(self, entry: StackEntry) -> str:
        # Made once per template and region: planning, judging and completing a stack each need it (tens of
        # milliseconds per template), and a loaded manifest's templates do not change.
        cached = self._bodies.get((id(entry.template), entry.region))
        if cached and cached[0] is entry.template:
            return cached[1]
        adapted = body_for_emulator(entry.template, entry.region)
        for arn in sorted(set(certificate_arns(entry.template))):
            adapted = adapted.replace(json.dumps(arn), json.dumps(self._stand_in_certificate(arn, entry.region)))
        self._bodies[(id(entry.template), entry.region)] = (entry.template, adapted)
        return adapted

    def _stand_in_certificate(self, arn: str, region: str) -> str:
        """Gap 27: an HTTPS listener needs its certificate to exist, and a certificate of the user's
        account never exists on the emulator (prod's sample even holds a placeholder ARN). The emulator
        gets a stand-in (RequestCertificate; the same one for the same ARN, through the idempotency
        token) and the template sent to it names that instead."""
        if (arn, region) in self._stand_ins:
            return self._stand_ins[(arn, region)]
        self._stand_ins[(arn, region)] = self._find_or_request_certificate(arn, region)
        return self._stand_ins[(arn, region)]

    def _find_or_request_certificate(self, arn: str, region: str) -> str:
        acm = self.clients(None).client("acm", region)
        try:
            acm.describe_certificate(CertificateArn=arn)
            return arn
        except ClientError:
            token = hashlib.sha256(arn.encode()).hexdigest()[:32]
            made: str = acm.request_certificate(DomainName="emulator.invalid", IdempotencyToken=token)["CertificateArn"]
            return made

    def sent_template(self, entry: StackEntry) -> dict[str, Any]:
        # What was sent to the emulator, so that its workarounds are not reported as differences.
        adapted: dict[str, Any] = json.loads(self.prepare_template(entry))
        return adapted

    def plan_notes(self, entry: StackEntry) -> list[str]:
        skipped = unmodelled(entry.template)
        if not skipped:
            return []
        return [f"  emulator: moto does not model {', '.join(skipped)}; they are accepted but not created"]

    def prepare_review_stack(self, cfn: Any, stack: dict[str, Any]) -> None:
        forget_review_stack(cfn, stack)

    def is_no_updates(self, exc: ClientError) -> bool:
        return is_no_updates(exc)

    def execute_failure(self, cfn: Any, stack_id: str, exc: ClientError) -> ExecuteFailure:
        if error_code(exc) == OBSOLETE_CHANGE_SET:  # gap 19: nothing ran; the stack is the other run's
            return ExecuteFailure([f"  ExecuteChangeSet refused: {error_message(exc)}"])
        stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        lines = [
            "  failed resources (the emulator reports no per-resource events; its error is the only reason):",
            f"    - {execute_failure(exc)}",
            f"  final status: {stack['StackStatus']} "
            "(the emulator does not roll back; resources it created may remain)",
        ]
        return ExecuteFailure(lines, stack_left=True)

    def after_execute(self, cfn: Any, stack: dict[str, Any], entry: StackEntry) -> dict[str, Any]:
        if outputs_current(stack, entry.template):
            return stack
        refresh_outputs(cfn, stack["StackId"], entry.capabilities)
        refreshed: dict[str, Any] = cfn.describe_stacks(StackName=stack["StackId"])["Stacks"][0]
        return refreshed

    def complete_execution(self, aws: Aws, stack: dict[str, Any], entry: StackEntry) -> tuple[list[str], bool]:
        return set_priorities(aws, entry.region, stack, self.sent_template(entry))

    def set_termination_protection(self, cfn: Any, stack_id: str, entry: StackEntry) -> list[str]:
        return [f"  emulator: {NO_TERMINATION_PROTECTION}; not set on {entry.stack_name}"]

    def deleted_despite_error(self, cfn: Any, stack_name: str, exc: ClientError) -> str | None:
        """Gap 6: moto 5.2.5 deletes synchronously; when it cannot delete a resource (for example a
        VPC whose dependants it did not delete) it answers with that error, yet has already dropped
        the stack. AWS would report DELETE_FAILED through the stack instead."""
        if describe_stack(cfn, stack_name):
            return None
        return f"== {stack_name}: deleted, but the emulator left resources behind: {error_message(exc)} =="

    def deletion_leftovers(self, cfn: Any, stack_id: str) -> list[tuple[str, str]]:
        return deletion_leftovers(cfn, stack_id)

    def remove_leftovers(self, aws: Aws, region: str, leftovers: list[tuple[str, str]]) -> list[str]:
        return remove_leftovers(aws, region, leftovers)

    def watch_advice(self, command: str) -> str:
        if self.ephemeral:
            return (
                "nothing: the emulator started by --local stops with this command (start moto yourself and "
                "use --local-endpoint to keep stacks between commands)"
            )
        return f"{command} (on the same endpoint)"
