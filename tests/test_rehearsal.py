"""The release rehearsal (`make rehearse ENV=...`, deployer.rehearsal.rehearse): every sample
environment's release reaches its service on the emulator, and each broken release path a
hand-edited out/ can hold stops at the step that breaks, naming it and the AWS document it follows.

Each test starts its own in-process emulator through the feature (no MOTO_ENDPOINT)."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest

from blueprints.template import resolve_joins
from deployer import cli
from deployer.rehearsal import rehearse
from deployer.reporter import Reporter
from tests.helpers import OUT, call_main

pytestmark = pytest.mark.deploy


def run(out_dir: Path, env: str, **kwargs) -> tuple[int, str]:
    stream = io.StringIO()
    code = rehearse(out_dir, env, reporter=Reporter(out=stream, err=stream), **kwargs)
    return code, stream.getvalue()


def copy_env(tmp_path: Path, env: str) -> Path:
    shutil.copytree(OUT / env, tmp_path / "out" / env)
    return tmp_path / "out" / env


def edit_pipeline(folder: Path, change) -> None:
    path = folder / "pipeline.json"
    template = json.loads(path.read_text())
    change(template["Resources"])
    path.write_text(json.dumps(template, indent=2))


def stage(resources: dict, name: str) -> dict:
    return next(s for s in resources["Pipeline"]["Properties"]["Stages"] if s["Name"] == name)


@pytest.mark.parametrize("env", ["dev", "prod", "staging", "preview"])
def test_each_sample_release_reaches_its_service(env):
    """Every sample environment, prod included: its HTTPS listeners get a stand-in certificate on the
    emulator (gap 27), where a certificate of the user's account cannot exist."""
    code, output = run(OUT, env)
    assert code == 0, output
    assert "scan gate: passed" in output
    assert "build: docker push → ECR (emulator)" in output
    assert f"rehearse {env}: the release reached the service" in output
    for section in ("executed on the emulator:", "checked against a contract:", "emulated:"):
        assert section in output
    assert "LOCAL EMULATOR stopped" in output


def test_image1_container_name_set_to_the_container_name_fails_the_codedeploy_step(tmp_path):
    folder = copy_env(tmp_path, "dev")

    def container_name(resources):
        stage(resources, "Deploy")["Actions"][0]["Configuration"]["Image1ContainerName"] = "web"

    edit_pipeline(folder, container_name)
    code, output = run(tmp_path / "out", "dev")
    assert code == 1, output
    assert "FAILED at Deploy/Deploy (CodeDeployToECS)" in output
    assert "placeholder <web> in taskdef.json, which has none (it has <IMAGE1_NAME>)" in output
    assert "Amazon Elastic Container Service and CodeDeploy blue-green deploy action reference" in output
    assert "scan gate: passed" in output  # the build ran: only the deploy step is at fault


# A build command that writes the service stack's parameters as a CloudFormation action's template
# configuration ({"Parameters": {...}}). No ": " in it: it is a plain YAML scalar in the buildspec.
TEMPLATE_CONFIGURATION = (
    'python3 -c \'import json; p = json.load(open("service-parameters.json")); '
    'json.dump({"Parameters":{x["ParameterKey"]:x["ParameterValue"] for x in p}}, '
    'open("service-configuration.json", "w"))\''
)


def cloudformation_actions(role_arn: dict | None):
    """The Deploy stage as CodePipeline's CloudFormation actions (CHANGE_SET_REPLACE, then
    CHANGE_SET_EXECUTE), on the build's service template and a template configuration."""

    def change(resources):
        build = resources["BuildProject"]["Properties"]["Source"]
        build["BuildSpec"] = (
            resolve_joins(build["BuildSpec"])
            .replace(
                "      - ls -l\n",
                f"      - {TEMPLATE_CONFIGURATION}\n      - ls -l\n",
            )
            .replace("    - service-tags.json\n", "    - service-tags.json\n    - service-configuration.json\n")
        )
        kind = {"Category": "Deploy", "Owner": "AWS", "Provider": "CloudFormation", "Version": "1"}
        common = {"StackName": {"Ref": "ServiceStackName"}, "ChangeSetName": "pipeline-release"}
        replace = {
            **common,
            "ActionMode": "CHANGE_SET_REPLACE",
            "TemplatePath": "BuildOutput::service-template.json",
            "TemplateConfiguration": "BuildOutput::service-configuration.json",
            "ParameterOverrides": json.dumps({"ImageUri": "#{BuildVariables.IMAGE_URI}"}),
            "Capabilities": "CAPABILITY_IAM,CAPABILITY_NAMED_IAM,CAPABILITY_AUTO_EXPAND",
        }
        if role_arn:
            replace["RoleArn"] = role_arn
        stage(resources, "Deploy")["Actions"] = [
            {
                "Name": "CreateChangeSet",
                "ActionTypeId": kind,
                "Configuration": replace,
                "InputArtifacts": [{"Name": "BuildOutput"}],
                "RunOrder": 1,
            },
            {
                "Name": "ExecuteChangeSet",
                "ActionTypeId": kind,
                "Configuration": {**common, "ActionMode": "CHANGE_SET_EXECUTE"},
                "RunOrder": 2,
            },
        ]

    return change


def test_cloudformation_change_set_actions_without_role_arn_fail_naming_it(tmp_path):
    edit_pipeline(copy_env(tmp_path, "staging"), cloudformation_actions(role_arn=None))
    code, output = run(tmp_path / "out", "staging")
    assert code == 1, output
    assert "FAILED at Deploy/CreateChangeSet (CloudFormation): RoleArn is required in CHANGE_SET_REPLACE mode" in output
    assert "CodePipeline action configuration reference" in output


def test_cloudformation_change_set_actions_with_a_role_release_the_image(tmp_path):
    """The same actions with RoleArn: the change sets are created and executed for real with the
    action's parameters and role, and the transform's green deployment is emulated."""
    edit_pipeline(
        copy_env(tmp_path, "staging"), cloudformation_actions(role_arn={"Fn::GetAtt": ["PipelineRole", "Arn"]})
    )
    code, output = run(tmp_path / "out", "staging")
    assert code == 0, output
    assert "Deploy/CreateChangeSet (CloudFormation): created change set pipeline-release" in output
    assert "Deploy/ExecuteChangeSet (CloudFormation): executed change set pipeline-release" in output
    assert "the green deployment of the AWS::CodeDeployBlueGreen transform" in output


def test_standard_ecs_action_is_caught_because_the_stacks_task_definition_does_not_reach_the_service(tmp_path):
    """The right reason: CodePipeline's standard ECS action builds its revision from the one the
    service runs and replaces only the image (action reference "Amazon ECS": revisions registered
    without updating the service are ignored), so changes to out/'s task definition never reach the
    service. The rehearsal starts the service on a stand-in previous release (the stack's revision
    plus REHEARSAL_PREVIOUS_RELEASE=1): the ECS action carries that variable over, and the final
    check finds the running revision is not out/'s task definition, although its image is the new
    one — the check is on the task definition, not on the image (the bootstrap-image check cannot
    catch this, the image is right)."""
    folder = copy_env(tmp_path, "preview")

    def ecs_action(resources):
        build = resources["BuildProject"]["Properties"]["Source"]
        build["BuildSpec"] = (
            resolve_joins(build["BuildSpec"])
            .replace(
                """      - printf '{"ImageURI":"%s"}\\n' "$IMAGE_URI" > imageDetail.json\n""",
                """      - printf '{"ImageURI":"%s"}\\n' "$IMAGE_URI" > imageDetail.json\n"""
                """      - printf '[{"name":"web","imageUri":"%s"}]' "$IMAGE_URI" > imagedefinitions.json\n""",
            )
            .replace("    - taskdef.json\n", "    - taskdef.json\n    - imagedefinitions.json\n")
        )
        assert "imagedefinitions.json" in build["BuildSpec"]
        stage(resources, "Deploy")["Actions"] = [
            {
                "Name": "Deploy",
                "ActionTypeId": {"Category": "Deploy", "Owner": "AWS", "Provider": "ECS", "Version": "1"},
                "Configuration": {
                    "ClusterName": {"Ref": "ClusterName"},
                    "ServiceName": {"Ref": "ServiceName"},
                    "FileName": "imagedefinitions.json",
                },
                "InputArtifacts": [{"Name": "BuildOutput"}],
                "RunOrder": 1,
            }
        ]

    edit_pipeline(folder, ecs_action)
    code, output = run(tmp_path / "out", "preview")
    assert code == 1, output
    assert "Deploy/Deploy (ECS): registered" in output  # the action ran for real
    assert re.search(
        r"FAILED at Deploy/Deploy \(ECS\): the service runs webapp-preview-task:\d+ with the new image", output
    )
    assert "did not reach the service" in output
    assert "REHEARSAL_PREVIOUS_RELEASE=1 is not in out/'s task definition" in output
    assert "Amazon Elastic Container Service deploy action reference" in output
    assert "the release runs the bootstrap image" not in output


def test_the_scan_gate_stops_the_release_on_the_emulators_high_finding():
    code, output = run(OUT, "dev", scan_findings="high")
    assert code == 1, output
    assert "scan gate: FAILED" in output
    assert "FAILED at Build/ImageAndScanGate (CodeBuild), scan gate" in output
    assert "HIGH" in output and "FAIL: HIGH 1 > 0" in output
    assert "Deploy/Deploy (CodeDeployToECS)" not in output  # nothing was deployed


def test_an_ecs_deployment_that_rolls_back_fails_the_release_step_naming_the_status():
    """The emulated service deployment (gap 13) ends ROLLBACK_SUCCESSFUL: the buildspec's own wait
    fails the Deploy step, naming the status; nothing is reported as reaching the service."""
    code, output = run(OUT, "preview", service_deployment_outcome="ROLLBACK_SUCCESSFUL")
    assert code == 1, output
    assert "FAILED at Deploy/Deploy (CodeBuild)" in output
    assert re.search(r"service deployment \S+/webapp-preview-service/\S+ ended ROLLBACK_SUCCESSFUL", output), output
    # The wait polled through the emulated walk, and the report names the emulation.
    assert re.search(r"service-deployment/\S+/webapp-preview-service/\S+: ROLLBACK_IN_PROGRESS", output), output
    assert "Deploy/Deploy (CodeBuild): ECS service deployments (moto models none, gap 13)" in output
    assert "reached the service" not in output


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    code, output = run(OUT, "nosuchenv")
    assert (code, output.count("\n")) == (2, 1), output
    assert "no manifest for environment 'nosuchenv'" in output

    folder = copy_env(tmp_path, "dev")
    manifest = json.loads((folder / "stacks.json").read_text())
    manifest["stacks"] = [s for s in manifest["stacks"] if s["name"] != "pipeline"]
    (folder / "stacks.json").write_text(json.dumps(manifest))
    code, output = run(tmp_path / "out", "dev")
    assert (code, output.count("\n")) == (2, 1), output
    assert "no pipeline stack" in output

    (folder / "service.json").write_text("{not json")
    code, output = run(tmp_path / "out", "dev")
    assert (code, output.count("\n")) == (2, 1), output
    assert "service.json: not valid JSON" in output


def test_command_line(tmp_path):
    result = call_main(cli.main, ["rehearse", "--env", "nosuchenv", "--out-dir", str(tmp_path)])
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    result = call_main(cli.main, ["rehearse", "--env", "dev", "--local"])
    assert result.returncode == 2 and "rehearse takes no --local" in result.stderr
