"""An environment's stacks, their wiring, and the files they become in out/<env>/.

The manifest (``stacks.json``) is the contract with scripts/deploy.py: it lists the stacks in
deploy order with everything needed to create them, so deployment reads only out/.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import network, pipeline, pipeline_deploy, service
from .config import EnvironmentConfig
from .template import CfnTemplate, capabilities, render

MANIFEST = "stacks.json"
@dataclass(frozen=True)
class Output:
    """A parameter value that comes from an output of an earlier stack of the same environment."""

    stack: str
    output: str


@dataclass
class Stack:
    name: str
    template: CfnTemplate
    # Values for the template's parameters: a string, or an Output of another stack.
    # Parameters left out take the template's Default.
    parameters: dict[str, str | Output] = field(default_factory=dict)
    # Parameters the deploy script keeps at their deployed value on update (for example the
    # image, which a release changes outside out/); on create they take the Default.
    kept_on_update: tuple[str, ...] = ()


def stacks(config: EnvironmentConfig) -> list[Stack]:
    """The stacks of one environment, in deploy order."""
    service_template = service.build(config)
    return [
        Stack(network.STACK, network.build(config)),
        Stack(service.STACK, service_template, parameters={
            "VpcId": Output(network.STACK, "VpcId"),
            "VpcCidr": Output(network.STACK, "VpcCidr"),
            "PublicSubnetIds": Output(network.STACK, "PublicSubnetIds"),
            "PrivateSubnetIds": Output(network.STACK, "PrivateSubnetIds"),
        }, kept_on_update=("ImageUri",)),
    ] + _pipeline_stacks(config, service_template)


def _pipeline_stacks(config: EnvironmentConfig, service_template: CfnTemplate) -> list[Stack]:
    """The release pipeline, when params has a ``pipeline:`` section; its service-stack values come
    from the service stack's outputs, or are deterministic names where that template has none."""
    if config.pipeline is None:
        return []
    sources = pipeline_deploy.parameter_sources(config)
    return [Stack(pipeline.STACK, pipeline.build(config, service_template), parameters={
        key: Output(service.STACK, value) if kind == "output" else value for key, (kind, value) in sources.items()
    })]


def _static_values(stack: Stack, body: dict[str, Any]) -> dict[str, str]:
    """Every parameter not wired to an output, with an explicit value (the given one, else the Default)."""
    values = {}
    for key, spec in sorted(body.get("Parameters", {}).items()):
        given = stack.parameters.get(key)
        if isinstance(given, Output):
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


def files(config: EnvironmentConfig) -> dict[str, str]:
    """Every file of out/<env>/, by name, as the exact text to write."""
    out: dict[str, str] = {}
    entries = []
    for stack in stacks(config):
        body = stack.template.to_dict()
        unknown = set(stack.parameters) - set(body.get("Parameters", {}))
        if unknown:
            raise ValueError(f"stack {stack.name}: values given for unknown parameters {sorted(unknown)}")
        static = _static_values(stack, body)
        wired = {
            key: {"stack": value.stack, "output": value.output}
            for key, value in sorted(stack.parameters.items()) if isinstance(value, Output)
        }
        out[f"{stack.name}.json"] = render(body)
        out[f"{stack.name}.parameters.json"] = render(
            [{"ParameterKey": k, "ParameterValue": v} for k, v in static.items()]
        )
        entries.append({
            "name": stack.name,
            "stack_name": f"{config.prefix}-{stack.name}",
            "template": f"{stack.name}.json",
            "parameters_file": f"{stack.name}.parameters.json",
            "region": config.region,
            "parameters": static,
            "parameters_from_outputs": wired,
            "parameters_kept_on_update": sorted(stack.kept_on_update),
            "depends_on": sorted({value["stack"] for value in wired.values()}),
            "capabilities": capabilities(body),
            "tags": config.stack_tags,
            "termination_protection": config.protected,
        })
    out[MANIFEST] = render({
        "project": config.project,
        "environment": config.environment,
        "region": config.region,
        "stacks": entries,
    })
    return out
