"""An environment's stacks, their wiring, and the files they become in out/<env>/.

The manifest (``stacks.json``, model in ``blueprints.manifest``) is the contract with the
deployer: it lists the stacks in deploy order with everything needed to create them, so
deployment reads only out/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import engines, manifest
from .config import EnvironmentConfig
from .engines.base import ServiceStack
from .stacks import network, pipeline, service
from .template import CfnTemplate, capabilities, render


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


def stacks(config: EnvironmentConfig) -> list[Stack]:
    """The stacks of one environment, in deploy order."""
    service_stack = service.build_stack(config)
    network_outputs = ("VpcId", "VpcCidr", "PublicSubnetIds", "PrivateSubnetIds")
    return [
        Stack(network.STACK, network.build(config)),
        Stack(
            service.STACK,
            service_stack.template,
            parameters={key: manifest.OutputRef(network.STACK, key) for key in network_outputs},
            kept_on_update=("ImageUri",),
        ),
        *_pipeline_stacks(config, service_stack),
    ]


def _pipeline_stacks(config: EnvironmentConfig, service_stack: ServiceStack) -> list[Stack]:
    """The release pipeline, when params has a ``pipeline:`` section; its service-stack values come
    from the service stack's outputs, or are deterministic names where that template has none."""
    if config.pipeline is None:
        return []
    engine = engines.get(config.service.deployment_engine)
    values: dict[str, str | manifest.OutputRef] = {
        key: manifest.OutputRef(service.STACK, output) for key, output in engine.service_outputs.items()
    }
    values.update(engine.static_service_values(config))
    return [Stack(pipeline.STACK, pipeline.build(config, service_stack), parameters=values, needs=(service.STACK,))]


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


def _entry(config: EnvironmentConfig, stack: Stack, body: dict[str, Any]) -> manifest.StackEntry:
    unknown = set(stack.parameters) - set(body.get("Parameters", {}))
    if unknown:
        raise ValueError(f"stack {stack.name}: values given for unknown parameters {sorted(unknown)}")
    wired = {key: value for key, value in stack.parameters.items() if isinstance(value, manifest.OutputRef)}
    return manifest.StackEntry(
        name=stack.name,
        stack_name=f"{config.prefix}-{stack.name}",
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
    # What is written is what every reader accepts.
    manifest.from_dict(document.to_dict(), manifest.FILE_NAME)
    out[manifest.FILE_NAME] = render(document.to_dict())
    return out
