"""The template the local emulator (moto 5.2.5) is sent: gaps 1, 7, 8, 10, 12 and 30 of deployer.emulator,
closed in the copy of the template sent to moto (the template deployed to AWS is never changed)."""

from __future__ import annotations

import json
import re
from typing import Any


def _pin_get_azs(node: Any, region: str) -> Any:
    # Gap 1: moto resolves {"Fn::GetAZs": {"Ref": "AWS::Region"}} to names like
    # "{'Ref': 'AWS::Region'}a", and subnet creation fails. Give it the region as a literal.
    if isinstance(node, dict):
        if set(node) == {"Fn::GetAZs"} and node["Fn::GetAZs"] in ({"Ref": "AWS::Region"}, ""):
            return {"Fn::GetAZs": region}
        return {k: _pin_get_azs(v, region) for k, v in node.items()}
    if isinstance(node, list):
        return [_pin_get_azs(v, region) for v in node]
    return node


# Gap 7: moto 5.2.5 has no CloudFormation model for these types: it skips them, and an
# Fn::GetAtt on one fails the whole stack ("Fn::GetAtt references undefined resource").
UNMODELLED_TYPES = frozenset(
    {
        "AWS::CloudWatch::Alarm",
        "AWS::CodeDeploy::Application",
        "AWS::CodeDeploy::DeploymentGroup",
        "AWS::CodeBuild::Project",
        "AWS::CodePipeline::Pipeline",
        "AWS::ECS::TaskSet",
        "AWS::ECS::PrimaryTaskSet",
    }
)


def unmodelled(template: dict[str, Any]) -> list[str]:
    return sorted(k for k, v in template.get("Resources", {}).items() if v.get("Type") in UNMODELLED_TYPES)


# Gap 10: moto 5.2.5 cannot resolve these attributes: a target group's name (FakeTargetGroup has
# no get_cfn_attribute; one such Output makes DescribeStacks drop every Output) and a subnet's zone
# (left as unresolved text). Both equal a property of the resource, which is used instead.
NAME_ATTRIBUTES = {
    ("AWS::ElasticLoadBalancingV2::TargetGroup", "TargetGroupName"): "Name",
    ("AWS::EC2::Subnet", "AvailabilityZone"): "AvailabilityZone",
}


def _placeholders(node: Any, resources: dict[str, Any], skipped: set[str]) -> Any:
    """References the emulator cannot resolve, replaced by a visible placeholder or a literal.
    A Ref to an unmodelled resource resolves to nothing in moto (and its Output disappears)."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in skipped:
            return f"emulator-not-modelled:{node['Ref']}"
        if set(node) == {"Fn::GetAtt"} and isinstance(node["Fn::GetAtt"], list):
            name, attribute = node["Fn::GetAtt"][0], node["Fn::GetAtt"][1]
            if name in skipped:
                return f"emulator-not-modelled:{name}.{attribute}"
            resource = resources.get(name, {})
            prop = NAME_ATTRIBUTES.get((resource.get("Type"), attribute))
            if prop and prop in resource.get("Properties", {}):
                return _placeholders(resource["Properties"][prop], resources, skipped)
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            text = node["Fn::Sub"]
            for name in skipped:
                text = re.sub(r"\$\{" + name + r"(\.[A-Za-z.]+)?\}", f"emulator-not-modelled:{name}\\1", text)
            return {"Fn::Sub": text}
        return {k: _placeholders(v, resources, skipped) for k, v in node.items()}
    if isinstance(node, list):
        return [_placeholders(v, resources, skipped) for v in node]
    return node


def _references(node: Any, names: set[str], found: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and value in names:
                found.add(value)
            elif key == "Fn::GetAtt" and isinstance(value, list) and value[0] in names:
                found.add(value[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found.update(n for n in re.findall(r"\$\{([A-Za-z0-9]+)[.}]", text) if n in names)
            _references(value, names, found)
    elif isinstance(node, list):
        for value in node:
            _references(value, names, found)
    return found


def _dependency_order(resources: dict[str, Any]) -> dict[str, Any]:
    """Gap 8: moto's ExecuteChangeSet creates new resources in template order, ignoring DependsOn
    (its CreateStack honours it). Reorder Resources so that everything comes after what it needs."""
    names = set(resources)
    needs: dict[str, set[str]] = {}
    for name, res in resources.items():
        depends = res.get("DependsOn", [])
        needs[name] = set([depends] if isinstance(depends, str) else depends) | _references(res, names, set())
        needs[name].discard(name)
    ordered: dict[str, Any] = {}

    def visit(name: str, path: tuple[str, ...] = ()) -> None:
        if name in ordered or name in path:
            return
        for dependency in sorted(needs[name]):
            visit(dependency, (*path, name))
        ordered[name] = resources[name]

    for name in resources:
        visit(name)
    return ordered


def _external_service_task_definition(resources: dict[str, Any]) -> None:
    """Gap 12: moto 5.2.5 cannot create an AWS::ECS::Service without TaskDefinition (KeyError, HTTP 500),
    which is how an EXTERNAL-controller service looks (its tasks come from task sets). moto ignores
    deployment controllers anyway, so the emulator's copy names the template's task definition."""
    task_definitions = [k for k, v in resources.items() if v.get("Type") == "AWS::ECS::TaskDefinition"]
    for resource in resources.values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::ECS::Service" and "TaskDefinition" not in properties and task_definitions:
            properties["TaskDefinition"] = {"Ref": task_definitions[0]}


def certificate_arns(template: dict[str, Any]) -> list[str]:
    """Literal ACM certificate ARNs of the template's listeners."""
    found = []
    for resource in (template.get("Resources") or {}).values():
        if resource.get("Type") in (
            "AWS::ElasticLoadBalancingV2::Listener",
            "AWS::ElasticLoadBalancingV2::ListenerCertificate",
        ):
            for certificate in (resource.get("Properties") or {}).get("Certificates") or []:
                arn = certificate.get("CertificateArn") if isinstance(certificate, dict) else None
                if isinstance(arn, str) and ":acm:" in arn:
                    found.append(arn)
    return found


def adapted_template(template: dict[str, Any], region: str) -> dict[str, Any]:
    """The template with gaps 1, 7, 8, 10 and 12 closed (a copy: ``template`` is left as it is)."""
    adapted: dict[str, Any] = _pin_get_azs(template, region)
    _external_service_task_definition(adapted.get("Resources", {}))
    adapted["Resources"] = _dependency_order(adapted.get("Resources", {}))
    adapted = _placeholders(adapted, adapted.get("Resources", {}), set(unmodelled(template)))
    return adapted


def template_for_emulator(template: dict[str, Any], region: str) -> str:
    """The adapted template as a readable file (the hand-off emulator's copies of out/<env>/)."""
    return json.dumps(adapted_template(template, region), indent=1)


# Gap 30: moto 5.2.5 parses every template body with PyYAML's pure-Python loader first and uses
# json.loads only when YAML's scanner or parser fails (moto/cloudformation/models.py, parse_template;
# responses.py, get_template_summary). A JSON template is valid YAML, so each CreateChangeSet,
# ExecuteChangeSet and UpdateStack spent 20-60 ms per template in the YAML scanner (three quarters
# of the emulator's CPU in an apply). JSON allows a tab before a value; YAML's scanner rejects a tab
# that starts a token, so a body that starts with one goes straight to moto's json.loads.
JSON_ONLY = "\t"


def body_for_emulator(template: dict[str, Any], region: str) -> str:
    """The adapted template as sent to the emulator: compact JSON (json's C encoder; fewer bytes to
    URL-encode and sign), led by gap 30's tab."""
    return JSON_ONLY + json.dumps(adapted_template(template, region), separators=(",", ":"))
