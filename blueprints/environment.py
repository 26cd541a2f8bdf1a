"""An environment's stacks, their wiring, and the files they become in out/<env>/.

The manifest (``stacks.json``, model in ``blueprints.manifest``) is the contract with the
deployer: it lists the stacks in deploy order with everything needed to create them, so
deployment reads only out/.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from . import assets, engines, manifest, naming
from .config import EnvironmentConfig
from .engines.base import ServiceStack
from .stacks import network, pipeline, platform, service
from .template import CfnTemplate, capabilities, render

# Stateful resources: replacing or removing one loses data, or an address other things depend on.
# The stack policy denies Update:Replace and Update:Delete on them (the deployer's refusal rule
# covers the same types); --allow-replacement lifts it for one reviewed change set.
PROTECTED_TYPES = frozenset(
    {
        "AWS::EC2::VPC",
        "AWS::EC2::Subnet",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS::ECR::Repository",
        "AWS::S3::Bucket",
        "AWS::Logs::LogGroup",
    }
)
# Types whose primary identifier is a name the template sets, with import support (the resource
# schemas bundled with cfn-lint: primaryIdentifier, handlers), so ImportExistingResources can adopt
# a retained one. Not the VPC or subnets: their primary IDs (VpcId, SubnetId) are read-only.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/import-resources-automatically.html
ADOPTABLE_NAMES = {
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
}
RETAINING = ("Retain", "RetainExceptOnCreate")
# The hand-off script beside the manifest: the AWS CLI alone deploys out/<env>/ with it.
DEPLOY_SCRIPT = "deploy.sh"


@dataclass
class Stack:
    name: str
    template: CfnTemplate
    # Values for the template's parameters: a string, or an output of an earlier stack.
    # Parameters left out take the template's Default.
    parameters: dict[str, str | manifest.OutputRef] = field(default_factory=dict)
    # Parameters the deployer keeps at their deployed value on update (for example the image,
    # which a release changes outside out/); on create they take the Default.
    kept_on_update: tuple[str, ...] = ()
    # Stacks this one needs besides those it takes outputs from (a pipeline names the service
    # stack it releases even when it reads none of its outputs).
    needs: tuple[str, ...] = ()
    # The configuration the stack was built from (a per-service view for a service's stacks):
    # its day-2 settings (rollback monitoring) are that service's.
    built_from: EnvironmentConfig | None = None


NETWORK_OUTPUTS = ("VpcId", "VpcCidr", "PublicSubnetIds", "PrivateSubnetIds")


def stacks(config: EnvironmentConfig) -> list[Stack]:
    """The stacks of one environment, in deploy order: network, service, pipeline; or, with
    ``services:``, network, platform, then each service's service and pipeline stacks."""
    network_stack = Stack(network.STACK, network.build(config))
    if config.multi_service:
        return [network_stack, _platform_stack(config), *[s for m in config.members() for s in _service_stacks(m)]]
    return [network_stack, *_service_stacks(config)]


def _platform_stack(config: EnvironmentConfig) -> Stack:
    template = platform.build(config)
    return Stack(platform.STACK, template, parameters=_wired(template, network.STACK, NETWORK_OUTPUTS))


def _wired(template: CfnTemplate, stack: str, outputs: tuple[str, ...]) -> dict[str, str | manifest.OutputRef]:
    """The template's parameters among ``outputs`` of ``stack`` (same names), wired to them."""
    return {key: manifest.OutputRef(stack, key) for key in outputs if key in template.parameters}


def _service_stacks(config: EnvironmentConfig) -> list[Stack]:
    """The service stack and, when it has a pipeline, its pipeline stack (of a per-service view:
    named "service-<name>" and "pipeline-<name>")."""
    service_stack = service.build_stack(config)
    parameters = _wired(service_stack.template, network.STACK, NETWORK_OUTPUTS)
    if config.member:
        parameters |= _wired(service_stack.template, platform.STACK, platform.SERVICE_INPUTS)
    return [
        Stack(
            naming.member_stack(config, service.STACK),
            service_stack.template,
            parameters=parameters,
            kept_on_update=("ImageUri",),
            built_from=config,
        ),
        *_pipeline_stacks(config, service_stack),
    ]


def _pipeline_stacks(config: EnvironmentConfig, service_stack: ServiceStack) -> list[Stack]:
    """The release pipeline, when params has a ``pipeline:`` section; its service-stack values come
    from the service stack's outputs, or are deterministic names where that template has none."""
    if config.pipeline is None:
        return []
    engine = engines.get(config.service.deployment_engine)
    released = naming.member_stack(config, service.STACK)
    values: dict[str, str | manifest.OutputRef] = {
        key: manifest.OutputRef(released, output) for key, output in engine.service_outputs.items()
    }
    values.update(engine.static_service_values(config))
    return [
        Stack(
            naming.member_stack(config, pipeline.STACK),
            pipeline.build(config, service_stack),
            parameters=values,
            needs=(released,),
            built_from=config,
        )
    ]


def _static_values(stack: Stack, body: dict[str, Any]) -> dict[str, str]:
    """Every parameter not wired to an output, with an explicit value (the given one, else the Default)."""
    values = {}
    for key, spec in sorted(body.get("Parameters", {}).items()):
        given = stack.parameters.get(key)
        if isinstance(given, manifest.OutputRef):
            continue
        if given is None:
            if "Default" not in spec:
                raise ValueError(f"stack {stack.name}: parameter {key} has neither a value nor a Default")
            given = spec["Default"]
        values[key] = given if isinstance(given, str) else json_scalar(given)
    return values


def json_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def adoptable(body: dict[str, Any]) -> list[str]:
    """Retained resources that a CREATE change set with ImportExistingResources adopts: a static
    custom name, a type that supports import. None in a template with a transform (the
    AWS::CodeDeployBlueGreen transform does not support resource import)."""
    if body.get("Transform"):
        return []
    return sorted(
        logical_id
        for logical_id, res in body.get("Resources", {}).items()
        if res.get("DeletionPolicy") in RETAINING
        and isinstance(res.get("Properties", {}).get(ADOPTABLE_NAMES.get(res.get("Type", ""), "")), str)
    )


def _safety(config: EnvironmentConfig, stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    """The manifest's day-2 keys for one stack: adoption, rollback triggers, stack policy."""
    resources = body.get("Resources", {})
    alarms = sorted(k for k, res in resources.items() if res.get("Type") == "AWS::CloudWatch::Alarm")
    if len(alarms) > manifest.MAX_ROLLBACK_TRIGGERS:
        raise ValueError(f"stack {stack.name}: {len(alarms)} alarms; CloudFormation monitors at most 5 as triggers")
    protected = [k for k, res in resources.items() if res.get("Type") in PROTECTED_TYPES]
    return {
        "adoptable_resources": adoptable(body),
        "rollback_alarms": alarms,
        "rollback_monitoring_minutes": (stack.built_from or config).service.rollback_monitoring_minutes
        if alarms
        else 0,
        "stack_policy": manifest.stack_policy_document(protected),
    }


def _entry(config: EnvironmentConfig, stack: Stack, body: dict[str, Any]) -> manifest.StackEntry:
    unknown = set(stack.parameters) - set(body.get("Parameters", {}))
    if unknown:
        raise ValueError(f"stack {stack.name}: values given for unknown parameters {sorted(unknown)}")
    wired = {key: value for key, value in stack.parameters.items() if isinstance(value, manifest.OutputRef)}
    return manifest.StackEntry(
        name=stack.name,
        stack_name=f"{config.env_prefix}-{stack.name}",
        template=f"{stack.name}.json",
        parameters_file=f"{stack.name}.parameters.json",
        region=config.region,
        parameters=_static_values(stack, body),
        parameters_from_outputs=wired,
        parameters_kept_on_update=sorted(stack.kept_on_update),
        depends_on=sorted({ref.stack for ref in wired.values()} | set(stack.needs)),
        capabilities=capabilities(body),
        tags=config.stack_tags,
        termination_protection=config.protected,
        **_safety(config, stack, body),
    )


def files(config: EnvironmentConfig) -> dict[str, str]:
    """Every file of out/<env>/, by name, as the exact text to write."""
    out: dict[str, str] = {}
    entries = []
    for stack in stacks(config):
        body = stack.template.to_dict()
        entry = _entry(config, stack, body)
        out[entry.template] = render(body)
        out[entry.parameters_file] = render(
            [{"ParameterKey": k, "ParameterValue": v} for k, v in entry.parameters.items()]
        )
        entries.append(entry)
    document = manifest.Manifest(
        project=config.project, environment=config.environment, region=config.region, stacks=entries
    )
    data = document.to_dict()
    # What is written is what every reader accepts.
    manifest.from_dict(data, manifest.FILE_NAME)
    out[manifest.FILE_NAME] = render(data)
    out[DEPLOY_SCRIPT] = deploy_script(document)
    return out


def _script_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _tags_json(tags: dict[str, str]) -> str:
    """The AWS CLI's --tags JSON, one tag a line."""
    rows = [json.dumps({"Key": k, "Value": v}, ensure_ascii=False) for k, v in sorted(tags.items())]
    return "[\n  " + ",\n  ".join(rows) + "\n]"


_SCRIPTS = assets.templates(
    trim_blocks=True,
    lstrip_blocks=True,
    # bash's ${#array[@]} is no jinja comment.
    comment_start_string="{#-jinja",
    comment_end_string="jinja-#}",
)
_SCRIPTS.filters["sh"] = shlex.quote
_SCRIPTS.filters["json"] = _script_json
_SCRIPTS.filters["tags_json"] = _tags_json


def deploy_script(document: manifest.Manifest) -> str:
    """``deploy.sh``: the manifest as a bash script that deploys the environment with the AWS CLI alone
    (README, "Hand-off"). Every value comes from the manifest; the templates and parameter files are
    read beside it at run time, as they stand."""
    return _SCRIPTS.get_template("deploy.sh.j2").render(
        m=document, stacks={entry.name: entry.stack_name for entry in document.stacks}
    )
