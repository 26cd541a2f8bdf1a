"""Before and after the rehearsed release: the service's state before it (a stand-in previous
release) and the final check of what the service runs after it.

The final check asks what a release must achieve: the service runs the image this rehearsal
pushed, in the task definition the service stack of out/<env>/ declares (its containers' names,
environment, port mappings and secrets). The second half is what makes a release path that copies
the revision the service already runs (CodePipeline's standard ECS action does: "creates its own
revision of the task definition based on the revision used by the Amazon ECS service") fail for
that reason: a freshly created stack's service runs the stack's own revision, so a copy of it would
look right. The service therefore starts from a stand-in previous release — the stack's revision
plus one environment variable, REHEARSAL_PREVIOUS_RELEASE, still on the bootstrap image — which is
what a service looks like once out/'s task definition has changed since the last release. A release
that deploys out/'s task definition replaces it; one that copies the running revision keeps it.
"""

from __future__ import annotations

from typing import Any

from .rehearsal_actions import Release
from .rehearsal_deploy import REGISTER_FIELDS, service_of
from .rehearsal_model import RehearsalInputError, StepFailedError

MARKER = "REHEARSAL_PREVIOUS_RELEASE"


def _revision(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def running_task_definition(release: Release) -> str:
    """The task definition ARN the service runs now (DescribeServices)."""
    cluster, service = service_of(release)
    described = release.client("ecs").describe_services(cluster=cluster, services=[service])["services"]
    arn: str = described[0]["taskDefinition"]
    return arn


def _running(release: Release) -> tuple[str, dict[str, Any]]:
    arn = running_task_definition(release)
    return arn, release.client("ecs").describe_task_definition(taskDefinition=arn, include=["TAGS"])


def previous_release(release: Release) -> set[str]:
    """Emulated: the service runs the release before this one (see the module docstring). Returns
    the bootstrap images: those of the stack's own revision (the ImageUri parameter's value)."""
    arn, described = _running(release)
    definition = {k: v for k, v in described["taskDefinition"].items() if k in REGISTER_FIELDS}
    bootstrap = {c["image"] for c in definition.get("containerDefinitions", [])}
    for container in definition.get("containerDefinitions", []):
        container["environment"] = [*container.get("environment", []), {"name": MARKER, "value": "1"}]
    ecs = release.client("ecs")
    previous = ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    cluster, service = service_of(release)
    ecs.update_service(cluster=cluster, service=service, taskDefinition=previous)
    release.emulated(
        f"previous release: {service.rsplit('/', 1)[-1]} runs {_revision(previous)}, the stack's {_revision(arn)} "
        f"plus {MARKER}=1 on the bootstrap image, as after out/'s task definition changed since the last release"
    )
    return bootstrap


def _declared(release: Release) -> dict[str, dict[str, Any]]:
    """out/'s task definition (the service stack's AWS::ECS::TaskDefinition), per container: the
    literal or resolvable environment, port mappings and secrets."""
    stack = release.service
    definitions = [
        r for r in stack.template.get("Resources", {}).values() if r.get("Type") == "AWS::ECS::TaskDefinition"
    ]
    if len(definitions) != 1:
        raise RehearsalInputError(
            f"{stack.entry.template_path}: expected one AWS::ECS::TaskDefinition, found {len(definitions)}"
        )
    declared: dict[str, dict[str, Any]] = {}
    for container in definitions[0].get("Properties", {}).get("ContainerDefinitions", []):
        where = f"{stack.entry.template_path}: container {container.get('Name')}"

        def value(raw: Any, where: str = where) -> str | None:
            try:
                return stack.resolve(raw, where)
            except RehearsalInputError:
                return None  # not comparable (e.g. a value only AWS resolves); left out of the check

        declared[str(container.get("Name"))] = {
            "environment": {str(e.get("Name")): value(e.get("Value")) for e in container.get("Environment", [])},
            "ports": sorted(int(p.get("ContainerPort", 0)) for p in container.get("PortMappings", [])),
            "secrets": {str(s.get("Name")): value(s.get("ValueFrom")) for s in container.get("Secrets", [])},
        }
    return declared


def _differences(declared: dict[str, dict[str, Any]], running: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    actual = {c["name"]: c for c in running}
    if set(actual) != set(declared):
        found.append(f"containers {sorted(actual)}, out/ declares {sorted(declared)}")
    for name in sorted(set(actual) & set(declared)):
        want, have = declared[name], actual[name]
        environment = {e["name"]: e.get("value") for e in have.get("environment", [])}
        for key in sorted(set(environment) | set(want["environment"])):
            expected = want["environment"].get(key)
            if key not in want["environment"]:
                found.append(f"container {name}: environment {key}={environment[key]} is not in out/'s task definition")
            elif key not in environment:
                found.append(f"container {name}: environment {key} of out/'s task definition is missing")
            elif expected is not None and environment[key] != expected:
                found.append(f"container {name}: environment {key}={environment[key]}, out/ says {expected}")
        ports = sorted(int(p.get("containerPort", 0)) for p in have.get("portMappings", []))
        if ports != want["ports"]:
            found.append(f"container {name}: ports {ports}, out/ says {want['ports']}")
        secrets = {s["name"]: s.get("valueFrom") for s in have.get("secrets", [])}
        if set(secrets) != set(want["secrets"]):
            found.append(f"container {name}: secrets {sorted(secrets)}, out/ says {sorted(want['secrets'])}")
    return found


def final_check(release: Release, bootstrap: set[str]) -> None:
    """The image the service's current task definition runs (DescribeServices → DescribeTaskDefinition),
    and whether that task definition is out/'s. Raises StepFailedError naming the last step that changed
    the service."""
    step, doc = release.last_change or ("Deploy", "service")
    arn, described = _running(release)
    containers = described["taskDefinition"].get("containerDefinitions", [])
    images = [c.get("image", "") for c in containers]
    pushed = release.ws.pushes()
    ours = {p["uri"] for p in pushed} | {p["reference"] for p in pushed}
    service = service_of(release)[1].rsplit("/", 1)[-1]
    release.say(f"result: {service} runs {_revision(arn)}, image {', '.join(images)}")
    if not pushed:
        raise StepFailedError("Build", "the build pushed no image, so there is nothing to release", "buildspec")
    if not ours & set(images):
        if bootstrap & set(images):
            reason = (
                f"the release runs the bootstrap image {sorted(bootstrap & set(images))[0]} (the ImageUri parameter's "
                f"value the stack was created with), not the image this rehearsal pushed ({pushed[-1]['uri']})"
            )
        else:
            reason = f"the service runs {', '.join(images)}, not the image this rehearsal pushed ({pushed[-1]['uri']})"
        raise StepFailedError(step, reason, doc)
    differences = _differences(_declared(release), containers)
    if differences and doc == "ecs":
        differences.append(
            "the Amazon ECS deploy action builds its revision from the one the service ran (here the stand-in "
            "previous release) and replaces only the image, so out/'s task definition is never registered"
        )
    if differences:
        template = release.service.entry.template_path
        raise StepFailedError(
            step,
            f"the service runs {_revision(arn)} with the new image but not in out/{template.parent.name}/"
            f"{template.name}'s task definition — the changes to the stack's task definition did not reach "
            "the service: " + "; ".join(differences),
            doc,
        )
    release.journal.executed.append(
        f"final check: DescribeServices → DescribeTaskDefinition: {service} runs {_revision(arn)} with the "
        "pushed image in out/'s task definition"
    )
    release.say(
        "result: OK — the image this rehearsal pushed, in out/'s task definition (containers, environment, ports, "
        "secrets)"
    )
