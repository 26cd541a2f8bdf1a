"""Pipeline blueprint: the buildspec and deploy artifacts the build writes, the pipeline's
structure per blue/green engine, the repository and bucket settings, IAM, and the wiring to the
service stack through the manifest."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from blueprints import environment, manifest, naming
from blueprints.config import EnvironmentConfig
from blueprints.stacks import pipeline, pipeline_artifacts, pipeline_codebuild, service
from blueprints.template import resolve_joins
from tests.helpers import OUT, ROOT, environments, role_statements, template

GATE = ROOT / "blueprints" / "assets" / "scan_gate.py"
TASK_ROLE = "arn:aws:iam::111122223333:role/shop-test-service-TaskRole-ABC"
EXECUTION_ROLE = "arn:aws:iam::111122223333:role/shop-test-service-TaskExecutionRole-DEF"
FAMILY = "family-from-the-service-output"  # not naming.task_family: the value must come from the parameter
ENGINE_OF_SAMPLE = {"dev": "codedeploy", "prod": "codedeploy", "preview": "ecs", "staging": "cloudformation"}


def _config(engine="codedeploy", service_overrides=None, **pipeline_overrides) -> EnvironmentConfig:
    svc = {"deployment_engine": engine, **(service_overrides or {})}
    if engine == "cloudformation":
        svc.setdefault("deployment_config", "AllAtOnce")
    return EnvironmentConfig.model_validate(
        {
            "project": "shop",
            "environment": "test",
            "region": "eu-west-1",
            "network": {"vpc_cidr": "10.0.0.0/16", "subnet_prefix_length": 20},
            "service": svc,
            "pipeline": {"github_owner": "acme", "github_repository": "shop", **pipeline_overrides},
        }
    )


def _pipeline(config: EnvironmentConfig):
    """The pipeline template of ``config``, releasing that config's service stack."""
    return pipeline.build(config, service.build_stack(config))


def _text(value) -> str:
    """A property's text, as built or as out/ writes it (an Fn::Join of its lines)."""
    text = resolve_joins(value)
    assert isinstance(text, str), value
    return text


def _buildspec(body: dict) -> dict:
    return yaml.safe_load(_text(body["Resources"]["BuildProject"]["Properties"]["Source"]["BuildSpec"]))


def _command(spec: dict, marker: str) -> str:
    found = [c for phase in spec["phases"].values() for c in phase["commands"] if marker in c]
    assert len(found) == 1, f"{marker!r} in {len(found)} commands"
    return found[0]


def _run_bash(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], **env},
        timeout=60,
    )


# --- every sample environment ------------------------------------------------------------------


def test_every_environment_has_a_pipeline_for_its_engine():
    assert set(environments()) <= set(ENGINE_OF_SAMPLE), "a new sample: add its engine to ENGINE_OF_SAMPLE"
    for env in environments():
        body = template(env, "pipeline")
        assert f"blue/green deploy by {ENGINE_OF_SAMPLE[env]}" in body["Description"]
        assert body["Resources"]["Pipeline"]["Properties"]["PipelineType"] == "V2"


@pytest.mark.parametrize("env", sorted(ENGINE_OF_SAMPLE))
def test_buildspec_is_yaml_with_the_expected_phases_and_gate(env, tmp_path):
    spec = _buildspec(template(env, "pipeline"))
    assert spec["version"] == 0.2
    assert list(spec["phases"]) == ["pre_build", "build"]  # no post_build: it would run after a failure
    assert spec["env"]["variables"]["SCAN_GATE_MAX"] == "CRITICAL=0,HIGH=0,MEDIUM=0"
    login = _command(spec, "get-login-password")
    assert "docker login --username AWS --password-stdin" in login
    assert 'docker push "$REPOSITORY_URI:$IMAGE_TAG"' in _command(spec, "docker build")
    assert _command(spec, "IMAGE_TAG=") == 'IMAGE_TAG="build-$COMMIT_ID"'
    assert _command(spec, "RELEASE_TAG=") == 'RELEASE_TAG="release-$COMMIT_ID"'
    # The embedded gate is blueprints/assets/scan_gate.py byte for byte, checked by its hash at build time.
    writer = _command(spec, "SCAN_GATE_PY")
    result = _run_bash(writer.replace("/tmp/scan_gate.py", str(tmp_path / "gate.py")), tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "gate.py").read_bytes() == GATE.read_bytes()
    run = _command(spec, "python3 /tmp/scan_gate.py")
    assert '--digest "$IMAGE_DIGEST"' in run and '--max "$SCAN_GATE_MAX"' in run
    assert '--timeout "$SCAN_GATE_TIMEOUT"' in run
    commands = spec["phases"]["build"]["commands"]
    gate_at = commands.index(run)
    writes = [i for i, c in enumerate(commands) if "imageDetail.json" in c]
    assert writes and min(writes) > gate_at, "deploy artifacts must be written only after the gate passed"
    # Every file the deploy stage reads is in the build's output artifact (plus imageDetail.json,
    # which CodeDeployToECS reads from the image artifact by convention): the files CodePipeline's
    # own actions name, and those the release projects' commands open.
    body = template(env, "pipeline")
    read = set()
    for stage in body["Resources"]["Pipeline"]["Properties"]["Stages"]:
        for action in stage["Actions"] if stage["Name"] == "Deploy" else []:
            config = action["Configuration"]
            read |= {
                config[k] for k in ("TaskDefinitionTemplatePath", "AppSpecTemplatePath", "FileName") if k in config
            }
            if action["ActionTypeId"]["Provider"] == "CodeBuild":
                project = body["Resources"][config["ProjectName"]["Ref"]]["Properties"]
                read |= set(re.findall(r"(?:file://|< |cat )([\w.-]+\.json)", _text(project["Source"]["BuildSpec"])))
    assert read, "the deploy stage reads files from the build"
    assert set(spec["artifacts"]["files"]) == read | {"imageDetail.json"}


def test_buildspec_runs_the_gate_with_configured_allowances_and_timeout():
    config = _config(scan_allowances={"HIGH": 2, "CRITICAL": 0, "LOW": 10}, scan_timeout_seconds=1200)
    body = _pipeline(config).to_dict()
    variables = _buildspec(body)["env"]["variables"]
    assert variables["SCAN_GATE_MAX"] == "CRITICAL=0,HIGH=2,LOW=10"  # most severe first, MEDIUM not gated
    assert variables["SCAN_GATE_TIMEOUT"] == "1200"
    # The build may run the whole scan wait on top of building.
    assert body["Resources"]["BuildProject"]["Properties"]["TimeoutInMinutes"] == pipeline_codebuild.BUILD_MINUTES + 20


def test_the_gate_argument_is_accepted_by_the_gate_itself():
    config = _config(scan_allowances={"CRITICAL": 1, "UNTRIAGED": 0})
    result = subprocess.run(
        ["python3", str(GATE), "--repository", "r", "--tag", "t", "--max", config.pipeline.scan_max, "--timeout", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    # --timeout 0 is a usage error reported after --max was parsed: --max itself was accepted.
    assert result.returncode == 2 and "--timeout" in result.stderr and "bad allowance" not in result.stderr


# --- codedeploy: taskdef.json and appspec.yaml -------------------------------------------------


def _release_files(config: EnvironmentConfig, tmp_path: Path) -> Path:
    spec = _buildspec(_pipeline(config).to_dict())
    script = "\n".join([_command(spec, "TASKDEF_JSON"), _command(spec, "APPSPEC_YAML")])
    result = _run_bash(
        script, tmp_path, TASK_ROLE_ARN=TASK_ROLE, EXECUTION_ROLE_ARN=EXECUTION_ROLE, TASK_FAMILY=FAMILY, HOME="/root"
    )
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_taskdef_matches_the_service_task_definition(tmp_path):
    secret = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/db-AbCdEf"
    config = _config(
        service_overrides={
            "container_name": "api",
            "container_port": 8000,
            "cpu": 512,
            "memory": 2048,
            "cpu_architecture": "ARM64",
            "environment": {"GREETING": "costs $HOME `whoami` \\n"},
            "secrets": {"DB": secret},
            "container_health_check": "curl -f http://localhost:8000/ || exit 1",
        }
    )
    taskdef = json.loads((_release_files(config, tmp_path) / "taskdef.json").read_text())
    svc = service.build(config).to_dict()["Resources"]["TaskDefinition"]["Properties"]
    container = taskdef["containerDefinitions"][0]
    # The family is the build's TASK_FAMILY, which the pipeline sets from its TaskDefinitionFamily
    # parameter (the service stack's output of the same name, through the manifest).
    assert taskdef["family"] == FAMILY
    assert {"key": "Name", "value": FAMILY} in taskdef["tags"]
    variables = _pipeline(config).to_dict()["Resources"]["BuildProject"]["Properties"]["Environment"][
        "EnvironmentVariables"
    ]
    assert {"Name": "TASK_FAMILY", "Type": "PLAINTEXT", "Value": {"Ref": "TaskDefinitionFamily"}} in variables
    assert service.build(config).to_dict()["Outputs"]["TaskDefinitionFamily"]["Value"] == svc["Family"]
    assert (taskdef["cpu"], taskdef["memory"]) == (svc["Cpu"], svc["Memory"]) == ("512", "2048")
    assert taskdef["runtimePlatform"] == {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}
    assert (taskdef["networkMode"], taskdef["requiresCompatibilities"]) == ("awsvpc", ["FARGATE"])
    assert (taskdef["taskRoleArn"], taskdef["executionRoleArn"]) == (TASK_ROLE, EXECUTION_ROLE)
    assert container["name"] == "api" and container["image"] == "<IMAGE1_NAME>"
    assert container["portMappings"] == [{"containerPort": 8000, "protocol": "tcp"}]
    # Shell-special characters of params values reach the task definition unchanged.
    assert container["environment"] == [{"name": "GREETING", "value": "costs $HOME `whoami` \\n"}]
    assert container["secrets"] == [{"name": "DB", "valueFrom": secret}]
    assert container["healthCheck"]["command"] == ["CMD-SHELL", "curl -f http://localhost:8000/ || exit 1"]
    assert container["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": naming.log_group(config),
            "awslogs-region": "eu-west-1",
            "awslogs-stream-prefix": "api",
        },
    }


def test_appspec_matches_the_service_load_balancer_and_hook(tmp_path):
    config = _config(service_overrides={"container_name": "api", "container_port": 8000})
    appspec = yaml.safe_load((_release_files(config, tmp_path) / "appspec.yaml").read_text())
    svc = service.build(config).to_dict()["Resources"]
    target = appspec["Resources"][0]["TargetService"]
    assert target["Type"] == "AWS::ECS::Service"
    assert target["Properties"]["TaskDefinition"] == "<TASK_DEFINITION>"
    balancer = svc["Service"]["Properties"]["LoadBalancers"][0]
    assert target["Properties"]["LoadBalancerInfo"] == {
        "ContainerName": balancer["ContainerName"],
        "ContainerPort": balancer["ContainerPort"],
    }
    assert appspec["Hooks"] == [{"AfterAllowTestTraffic": svc["ValidationHookFunction"]["Properties"]["FunctionName"]}]


def test_taskdef_refuses_a_value_it_cannot_resolve(monkeypatch):
    monkeypatch.setattr(pipeline_artifacts, "TASKDEF_PROPERTIES", pipeline_artifacts.TASKDEF_PROPERTIES - {"Tags"})
    with pytest.raises(ValueError, match="does not carry the task definition properties \\['Tags'\\]"):
        pipeline_artifacts.taskdef_json(_config(), service.build_stack(_config()))


# --- pipeline structure per engine -------------------------------------------------------------


def _stages(body: dict) -> list[tuple[str, list[tuple[str, str]]]]:
    return [
        (s["Name"], [(a["ActionTypeId"]["Category"], a["ActionTypeId"]["Provider"]) for a in s["Actions"]])
        for s in body["Resources"]["Pipeline"]["Properties"]["Stages"]
    ]


def _action(body: dict, name: str) -> dict:
    for stage in body["Resources"]["Pipeline"]["Properties"]["Stages"]:
        for action in stage["Actions"]:
            if action["Name"] == name:
                return action
    raise KeyError(name)


def test_source_and_build_stages():
    body = _pipeline(_config(branch="release/1.x")).to_dict()
    source = _action(body, "GitHub")
    assert source["Configuration"]["FullRepositoryId"] == "acme/shop"
    assert source["Configuration"]["BranchName"] == "release/1.x"
    assert source["Configuration"]["ConnectionArn"] == {"Ref": "GitHubConnection"}
    assert source["OutputArtifacts"] == [{"Name": "SourceOutput"}]
    build = _action(body, "ImageAndScanGate")
    assert build["InputArtifacts"] == [{"Name": "SourceOutput"}] and build["OutputArtifacts"] == [
        {"Name": "BuildOutput"}
    ]
    assert json.loads(build["Configuration"]["EnvironmentVariables"]) == [
        {"name": "COMMIT_ID", "type": "PLAINTEXT", "value": "#{SourceVariables.CommitId}"}
    ]
    trigger = body["Resources"]["Pipeline"]["Properties"]["Triggers"][0]
    assert trigger["GitConfiguration"]["Push"] == [{"Branches": {"Includes": ["release/1.x"]}}]
    project = body["Resources"]["BuildProject"]["Properties"]
    assert project["Environment"]["PrivilegedMode"] is True
    assert project["Environment"]["Type"] == "LINUX_CONTAINER"


def test_codedeploy_engine_deploys_with_codedeploy_to_ecs():
    body = _pipeline(_config()).to_dict()
    assert _stages(body) == [
        ("Source", [("Source", "CodeStarSourceConnection")]),
        ("Build", [("Build", "CodeBuild")]),
        ("Deploy", [("Deploy", "CodeDeployToECS")]),
    ]
    deploy = _action(body, "Deploy")
    assert deploy["InputArtifacts"] == [{"Name": "BuildOutput"}]
    assert deploy["Configuration"] == {
        "ApplicationName": {"Ref": "CodeDeployApplicationName"},
        "DeploymentGroupName": {"Ref": "DeploymentGroupName"},
        "TaskDefinitionTemplateArtifact": "BuildOutput",
        "TaskDefinitionTemplatePath": "taskdef.json",
        "AppSpecTemplateArtifact": "BuildOutput",
        "AppSpecTemplatePath": "appspec.yaml",
        "Image1ArtifactName": "BuildOutput",
        # The placeholder's text, as AWS's examples write it: the action replaces "<IMAGE1_NAME>"
        # in taskdef.json with the image (CodePipeline action reference, "Amazon ECS and CodeDeploy
        # blue-green deploy action": Image1ContainerName; tutorial "Create a pipeline with an
        # Amazon ECR source and ECS-to-CodeDeploy deployment", which uses IMAGE1_NAME).
        "Image1ContainerName": "IMAGE1_NAME",
    }
    assert '"image": "<IMAGE1_NAME>"' in _command(_buildspec(body), "TASKDEF_JSON")


def test_manual_approval_is_a_stage_before_deploy_and_defaults_on_for_prod():
    body = _pipeline(_config(engine="ecs", manual_approval=True)).to_dict()
    assert [name for name, _ in _stages(body)] == ["Source", "Build", "Approve", "Deploy"]
    assert _stages(body)[2][1] == [("Approval", "Manual")]
    assert [n for n, _ in _stages(template("prod", "pipeline"))] == ["Source", "Build", "Approve", "Deploy"]
    assert [n for n, _ in _stages(template("dev", "pipeline"))] == ["Source", "Build", "Deploy"]


def _release_buildspec(body: dict, action: str) -> dict:
    project = _action(body, action)["Configuration"]["ProjectName"]["Ref"]
    return yaml.safe_load(_text(body["Resources"][project]["Properties"]["Source"]["BuildSpec"]))


def test_ecs_engine_registers_the_stacks_task_definition_and_deploys_that_revision():
    """Not CodePipeline's ECS action, which builds its revision from the one the service runs and
    replaces only the image (CodePipeline action reference, "Amazon ECS"): the release registers
    the stack's own task definition with the new image and gives the service that exact revision."""
    body = _pipeline(_config(engine="ecs")).to_dict()
    assert _stages(body)[-1] == ("Deploy", [("Build", "CodeBuild")])
    deploy = _action(body, "Deploy")
    assert deploy["InputArtifacts"] == [{"Name": "BuildOutput"}]
    release = _release_buildspec(body, "Deploy")
    register = _command(release, "register-task-definition")
    assert "--cli-input-json file://taskdef.json" in register and "TASK_DEFINITION_ARN=" in register
    update = _command(release, "update-service")
    assert '--task-definition "$TASK_DEFINITION_ARN"' in update
    commands = release["phases"]["build"]["commands"]
    assert commands.index(register) < commands.index(update)
    project = body["Resources"][deploy["Configuration"]["ProjectName"]["Ref"]]["Properties"]
    assert project["ServiceRole"] == {"Fn::GetAtt": ["ReleaseRole", "Arn"]}
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert variables == {"CLUSTER_NAME": {"Ref": "ClusterName"}, "SERVICE_NAME": {"Ref": "ServiceName"}}
    assert "ContainerName" not in body["Parameters"]  # the whole task definition travels, not one image


def test_ecs_release_task_definition_is_the_stacks_with_the_scanned_image(tmp_path):
    config = _config(engine="ecs", service_overrides={"environment": {"MODE": "blue-green"}})
    stack = service.build_stack(config)
    spec = _buildspec(pipeline.build(config, stack).to_dict())
    image = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop-test@sha256:" + "a" * 64
    result = _run_bash(
        _command(spec, "TASKDEF_JSON"),
        tmp_path,
        IMAGE_URI=image,
        TASK_ROLE_ARN=TASK_ROLE,
        EXECUTION_ROLE_ARN=EXECUTION_ROLE,
        TASK_FAMILY=FAMILY,
    )
    assert result.returncode == 0, result.stderr
    taskdef = json.loads((tmp_path / "taskdef.json").read_text())
    assert taskdef["family"] == FAMILY
    assert (taskdef["taskRoleArn"], taskdef["executionRoleArn"]) == (TASK_ROLE, EXECUTION_ROLE)
    (container,) = taskdef["containerDefinitions"]
    assert container["image"] == image
    assert container["environment"] == [{"name": "MODE", "value": "blue-green"}]
    declared = stack.handles.task_definition.to_dict()["Properties"]
    assert (taskdef["cpu"], taskdef["memory"]) == (declared["Cpu"], declared["Memory"])


@pytest.mark.parametrize("approval", [True, False])
def test_cloudformation_engine_creates_then_executes_an_image_only_change_set(approval):
    body = _pipeline(_config(engine="cloudformation", manual_approval=approval)).to_dict()
    deploy = [
        a for s in body["Resources"]["Pipeline"]["Properties"]["Stages"] if s["Name"] == "Deploy" for a in s["Actions"]
    ]
    expected = ["CreateChangeSet"] + (["Approve"] if approval else []) + ["ExecuteChangeSet"]
    assert [a["Name"] for a in sorted(deploy, key=lambda a: a["RunOrder"])] == expected
    assert "Approve" not in [n for n, _ in _stages(body)]  # the approval sits between the two steps
    # CodeBuild steps, not CloudFormation actions: those require a RoleArn in CHANGE_SET_REPLACE
    # mode (CodePipeline action reference, "AWS CloudFormation"), which would become the stack's role.
    providers = {a["Name"]: a["ActionTypeId"]["Provider"] for a in deploy}
    assert providers["CreateChangeSet"] == providers["ExecuteChangeSet"] == "CodeBuild"
    for name in ("CreateChangeSet", "ExecuteChangeSet"):
        variables = json.loads(_action(body, name)["Configuration"]["EnvironmentVariables"])
        assert variables == [
            {"name": "EXECUTION_ID", "type": "PLAINTEXT", "value": "#{codepipeline.PipelineExecutionId}"}
        ]
    create = _command(_release_buildspec(body, "CreateChangeSet"), "create-change-set")
    assert '--change-set-name "pipeline-release-$EXECUTION_ID"' in create
    assert "--parameters file://service-parameters.json" in create and "--change-set-type UPDATE" in create
    assert "--role-arn" not in json.dumps(body) and "RoleArn" not in json.dumps(deploy)
    assert {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"} <= set(create.split("--capabilities ")[1].split(" --")[0].split())
    execute = _command(_release_buildspec(body, "ExecuteChangeSet"), "execute-change-set")
    assert '--change-set-name "pipeline-release-$EXECUTION_ID"' in execute


def test_cloudformation_engine_reads_the_deployed_template_and_keeps_other_parameters(tmp_path):
    spec = _buildspec(_pipeline(_config(engine="cloudformation")).to_dict())
    assert "--template-stage Original" in _command(spec, "get-template")
    (tmp_path / "stack.json").write_text(
        json.dumps(
            {
                "Parameters": [
                    {"ParameterKey": "VpcId", "ParameterValue": "vpc-1"},
                    {"ParameterKey": "ImageUri", "ParameterValue": "old@sha256:1"},
                ],
                "Tags": [{"Key": "Project", "Value": "shop"}],
            }
        )
    )
    (tmp_path / "template.json").write_text(json.dumps({"Resources": {"A": {"Type": "AWS::SNS::Topic"}}}, indent=4))
    script = (
        _command(spec, "CONFIGURATION_PY")
        .replace("/tmp/service-stack.json", str(tmp_path / "stack.json"))
        .replace("/tmp/service-template.json", str(tmp_path / "template.json"))
    )
    result = _run_bash(script, tmp_path, IMAGE_URI="new@sha256:2")
    assert result.returncode == 0, result.stderr
    # In the AWS CLI's --parameters and --tags file formats, with only the image replaced.
    assert json.loads((tmp_path / "service-parameters.json").read_text()) == [
        {"ParameterKey": "ImageUri", "ParameterValue": "new@sha256:2"},
        {"ParameterKey": "VpcId", "ParameterValue": "vpc-1"},
    ]
    assert json.loads((tmp_path / "service-tags.json").read_text()) == [{"Key": "Project", "Value": "shop"}]
    assert (tmp_path / "service-template.json").read_text() == '{"Resources":{"A":{"Type":"AWS::SNS::Topic"}}}'


def test_cloudformation_release_runs_as_the_release_role_and_leaves_no_role_on_the_stack():
    """CloudFormation uses the role an operation passes for every later operation that passes none
    (CreateChangeSet RoleARN): a role given to the release would take over the deployer's
    infrastructure updates. So no role for CloudFormation exists or is passed; the release role
    (CodeBuild's) carries what CloudFormation does with the caller's credentials."""
    body = _pipeline(_config(engine="cloudformation")).to_dict()
    roles_ = {name for name, props in body["Resources"].items() if props["Type"] == "AWS::IAM::Role"}
    assert roles_ == {"BuildRole", "PipelineRole", "ReleaseRole"}
    assert "cloudformation.amazonaws.com" not in json.dumps(body)
    trust = body["Resources"]["ReleaseRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "codebuild.amazonaws.com"}]
    actions = {
        a
        for name, s in role_statements(body)
        if name == "ReleaseRole"
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    # What the transform's green deployment does as its caller (AWS CloudFormation User Guide,
    # blue/green permissions): CodeDeploy, task definitions and sets, both listeners, task roles.
    assert {
        "cloudformation:CreateChangeSet",
        "cloudformation:ExecuteChangeSet",
        "codedeploy:CreateCloudFormationDeployment",
        "codedeploy:GetDeploymentTarget",
        "codedeploy:GetDeploymentGroup",
        "ecs:RegisterTaskDefinition",
        "ecs:DeregisterTaskDefinition",
        "ecs:CreateTaskSet",
        "ecs:TagResource",
        "ecs:UpdateServicePrimaryTaskSet",
        "elasticloadbalancing:ModifyListener",
        "elasticloadbalancing:ModifyRule",
        "elasticloadbalancing:DescribeListeners",
        "iam:GetRole",
        "iam:PassRole",
    } <= actions
    pipeline_actions = {a for name, s in role_statements(body) if name == "PipelineRole" for a in s["Action"]}
    assert not {a for a in pipeline_actions if a.startswith(("cloudformation:", "ecs:", "codedeploy:"))}
    passes = [s for name, s in role_statements(body) if name == "ReleaseRole" and s["Action"] == ["iam:PassRole"]]
    services = {s["Condition"]["StringEquals"]["iam:PassedToService"] for s in passes}
    assert services == {"ecs-tasks.amazonaws.com", "codedeploy.amazonaws.com"}
    # Still scoped to this service's task sets, through the pipeline's parameters.
    task_sets = next(s for name, s in role_statements(body) if "ecs:CreateTaskSet" in s["Action"])
    assert task_sets["Resource"] == [
        {"Fn::Sub": pipeline.ARN % ("ecs", "service/${ClusterName}/${ServiceName}")},
        {"Fn::Sub": pipeline.ARN % ("ecs", "task-set/${ClusterName}/${ServiceName}/*")},
    ]


# --- repository, bucket, notifications --------------------------------------------------------


def test_repository_settings():
    body = _pipeline(_config(images_to_keep=7, untagged_image_days=2)).to_dict()
    resource = body["Resources"]["Repository"]
    props = resource["Properties"]
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert props["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert props["ImageTagMutability"] == "IMMUTABLE"
    assert props["EncryptionConfiguration"] == {"EncryptionType": "KMS"}
    assert props["RepositoryName"] == naming.repository(_config())
    rules = json.loads(props["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    assert [
        (r["rulePriority"], r["selection"]["tagStatus"], r["selection"]["countType"], r["selection"]["countNumber"])
        for r in rules
    ] == [
        (1, "untagged", "sinceImagePushed", 2),
        (2, "tagged", "imageCountMoreThan", 7),
        (3, "tagged", "sinceImagePushed", 14),
    ]
    # ECR's documented constraints: "tagged" needs a tag list, "untagged" has none.
    assert "tagPatternList" not in rules[0]["selection"] and "tagPrefixList" not in rules[0]["selection"]
    assert rules[1]["selection"]["tagPrefixList"] == [pipeline_artifacts.RELEASE_TAG_PREFIX]
    assert rules[2]["selection"]["tagPrefixList"] == [pipeline_artifacts.BUILD_TAG_PREFIX]
    assert all(r["action"] == {"type": "expire"} for r in rules)


def _expired(rules: list[dict], images: list[dict], today: int) -> set[str]:
    """ECR's lifecycle evaluation as the Amazon ECR User Guide states it ("Lifecycle policy
    evaluation rules"): rules apply from the lowest rulePriority; an image matching the tagging
    requirements of a higher-priority rule cannot be expired by a lower-priority rule; a tag list
    matches an image having a tag with one of the prefixes; imageCountMoreThan keeps the newest N
    (by push time) of the images the rule selects; sinceImagePushed expires those older than N days.
    https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html"""
    claimed: set[str] = set()
    expired: set[str] = set()
    for rule in sorted(rules, key=lambda r: r["rulePriority"]):
        selection = rule["selection"]

        def matches(image: dict, selection: dict = selection) -> bool:
            if selection["tagStatus"] == "untagged":
                return not image["tags"]
            if selection["tagStatus"] == "any":
                return True
            prefixes = selection.get("tagPrefixList") or [p.rstrip("*") for p in selection.get("tagPatternList", [])]
            return any(tag.startswith(prefix) for tag in image["tags"] for prefix in prefixes)

        selected = sorted((i for i in images if matches(i) and i["digest"] not in claimed), key=lambda i: -i["pushed"])
        if selection["countType"] == "imageCountMoreThan":
            expired |= {i["digest"] for i in selected[selection["countNumber"] :]}
        else:
            expired |= {i["digest"] for i in selected if today - i["pushed"] > selection["countNumber"]}
        claimed |= {i["digest"] for i in selected}
    return expired


def test_failing_builds_never_expire_the_image_production_runs():
    """A run of builds that fail the scan gate (pushed, tagged with their commit, never released)
    must not push the running image out of the repository: scale-out and rollback pull it."""
    body = _pipeline(_config(images_to_keep=3, untagged_image_days=2)).to_dict()
    rules = json.loads(body["Resources"]["Repository"]["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    build, release = pipeline_artifacts.BUILD_TAG_PREFIX, pipeline_artifacts.RELEASE_TAG_PREFIX
    running = {"digest": "running", "tags": [f"{build}c0", f"{release}c0"], "pushed": 0}
    failing = [{"digest": f"bad{i}", "tags": [f"{build}c{i}"], "pushed": i} for i in range(1, 40)]
    assert "running" not in _expired(rules, [running, *failing], today=40)
    # Released images are still capped at images_to_keep, and failed ones go by age.
    released = [{"digest": f"rel{i}", "tags": [f"{build}r{i}", f"{release}r{i}"], "pushed": 100 + i} for i in range(5)]
    gone = _expired(rules, [running, *failing, *released], today=105)
    assert {"running", "rel0", "rel1"} <= gone and not {"rel2", "rel3", "rel4"} & gone
    assert {f"bad{i}" for i in range(1, 40)} <= gone
    # Day 2: an image pushed by the previous pipeline (bare commit tag) may be what production runs
    # when this policy arrives; no rule may expire it.
    legacy = {"digest": "legacy", "tags": ["0123abc"], "pushed": 0}
    assert "legacy" not in _expired(rules, [legacy, *failing, *released], today=400)


def test_artifact_bucket_settings():
    body = _pipeline(_config(artifact_retention_days=9)).to_dict()
    props = body["Resources"]["ArtifactBucket"]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms"}
    assert props["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 9
    deny = body["Resources"]["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})


def test_failure_notifications():
    assert "FailureNotificationRule" not in template("dev", "pipeline")["Resources"]
    prod = template("prod", "pipeline")["Resources"]
    rule = prod["FailureNotificationRule"]["Properties"]
    assert rule["EventTypeIds"] == ["codepipeline-pipeline-pipeline-execution-failed"]
    assert rule["Targets"] == [{"TargetType": "SNS", "TargetAddress": {"Ref": "FailureTopic"}}]
    assert prod["FailureTopic"]["Properties"]["Subscription"][0]["Protocol"] == "email"
    topic = "arn:aws:sns:eu-west-1:111122223333:alerts"
    body = _pipeline(_config(notification_topic_arn=topic)).to_dict()["Resources"]
    assert "FailureTopic" not in body
    assert body["FailureNotificationRule"]["Properties"]["Targets"][0]["TargetAddress"] == topic


def test_existing_connection_is_used_with_its_own_service_prefix():
    arn = "arn:aws:codeconnections:eu-west-1:111122223333:connection/00000000-0000-0000-0000-000000000000"
    body = _pipeline(_config(connection=arn)).to_dict()
    assert "GitHubConnection" not in body["Resources"]
    assert _action(body, "GitHub")["Configuration"]["ConnectionArn"] == arn
    uses = [s for name, s in role_statements(body) if name == "PipelineRole" and s["Resource"] == [arn]]
    assert [s["Action"] for s in uses] == [["codeconnections:UseConnection"]]


def test_outputs():
    outputs = template("dev", "pipeline")["Outputs"]
    assert {"PipelineName", "PipelineConsoleUrl", "RepositoryUri", "ArtifactBucketName"} <= set(outputs)
    assert "codepipeline/pipelines/${Pipeline}/view" in outputs["PipelineConsoleUrl"]["Value"]["Fn::Sub"]


# --- IAM -----------------------------------------------------------------------------------------


def _resource_types(action: str) -> list[str]:
    """The resource types IAM accepts for ``action``, from the Service Authorization Reference data
    bundled with cfn-lint (an empty list: the action has no resource-level permissions)."""
    from cfnlint.data import AdditionalSpecs
    from cfnlint.helpers import load_resource

    service, name = action.split(":")
    return load_resource(AdditionalSpecs, "Policies.json")[service]["Actions"][name.lower()].get("Resources", [])


@pytest.mark.parametrize("env", sorted(ENGINE_OF_SAMPLE))
def test_iam_has_no_wildcard_actions_and_star_only_where_unavoidable(env):
    body = template(env, "pipeline")
    for name, statement in role_statements(body):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            assert "*" not in action, f"{name}: wildcard action {action}"
        if "*" in statement["Resource"]:
            # "*" only where AWS offers nothing narrower: actions without resource types.
            assert not [a for a in actions if _resource_types(a)], f"{name}: {actions} on *"
        if "iam:PassRole" in actions:
            assert "iam:PassedToService" in statement["Condition"]["StringEquals"], name


@pytest.mark.parametrize("env", ["dev", "preview"])
def test_pipeline_passes_only_the_task_roles_to_ecs(env):
    body = template(env, "pipeline")
    passes = [s for name, s in role_statements(body) if "iam:PassRole" in s["Action"]]
    assert passes == [
        {
            "Action": ["iam:PassRole"],
            "Effect": "Allow",
            "Resource": [{"Ref": "TaskRoleArn"}, {"Ref": "TaskExecutionRoleArn"}],
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        }
    ]


def test_build_role_pushes_only_to_its_repository():
    body = template("dev", "pipeline")
    pushes = [s for name, s in role_statements(body) if name == "BuildRole" and "ecr:PutImage" in s["Action"]]
    assert len(pushes) == 1 and pushes[0]["Resource"] == [{"Fn::GetAtt": ["Repository", "Arn"]}]
    assert "ecr:DescribeImageScanFindings" in pushes[0]["Action"]


# --- wiring through the manifest ---------------------------------------------------------------


@pytest.mark.parametrize("env", sorted(ENGINE_OF_SAMPLE))
def test_manifest_wires_the_pipeline_to_the_service_stack(env):
    document = json.loads((OUT / env / "stacks.json").read_text())
    entries = {s["name"]: s for s in document["stacks"]}
    entry = entries["pipeline"]
    service_outputs = set(template(env, "service").get("Outputs", {}))
    for key, source in entry["parameters_from_outputs"].items():
        assert source["stack"] == "service" and source["output"] in service_outputs, key
    declared = set(template(env, "pipeline")["Parameters"])
    assert declared == set(entry["parameters"]) | set(entry["parameters_from_outputs"])
    if ENGINE_OF_SAMPLE[env] == "cloudformation":
        assert entry["parameters"]["ServiceStackName"] == entries["service"]["stack_name"]
    # Also when the stack is named by value only (cloudformation): destroy must refuse to delete
    # the service stack under its pipeline, and apply must create it first.
    assert entry["depends_on"] == ["service"]


@pytest.mark.parametrize("engine", ["codedeploy", "ecs", "cloudformation"])
def test_service_stack_names_arrive_as_parameters_not_literals(engine):
    """Cluster, service and task family are the service stack's: the pipeline template uses its
    parameters (filled from the service outputs, or the manifest's values), never its own copy."""
    config = _config(engine=engine)
    body = _pipeline(config).to_dict()
    text = json.dumps(body)
    cluster, svc, family = naming.cluster(config), naming.service(config), naming.task_family(config)
    assert family not in text
    assert f"service/{cluster}/" not in text and f"task-set/{cluster}/" not in text
    assert f"cluster/{cluster}" not in text
    for key in ("TaskDefinitionFamily",) + (("ClusterName", "ServiceName") if engine != "codedeploy" else ()):
        parameter = body["Parameters"][key]
        assert parameter["Description"]
        assert f'{{"Ref": "{key}"}}' in text or "${" + key + "}" in text, f"{key} is not used"
        groups = body["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
        assert key in next(g["Parameters"] for g in groups if g["Label"]["default"] == "Service stack")
    tagging = next(s for name, s in role_statements(body) if "ecs:RegisterTaskDefinition" in s["Action"])
    assert tagging["Action"] == ["ecs:RegisterTaskDefinition", "ecs:TagResource"]
    assert tagging["Resource"] == [{"Fn::Sub": pipeline.ARN % ("ecs", "task-definition/${TaskDefinitionFamily}:*")}]
    # ...and the manifest fills them with the service stack's own names.
    wired = next(s for s in environment.stacks(config) if s.name == "pipeline").parameters
    if engine == "cloudformation":
        assert (wired["ClusterName"], wired["ServiceName"], wired["TaskDefinitionFamily"]) == (cluster, svc, family)
    else:
        assert wired["TaskDefinitionFamily"] == manifest.OutputRef("service", "TaskDefinitionFamily")
        if engine == "ecs":
            assert wired["ClusterName"] == manifest.OutputRef("service", "ClusterName")
            assert wired["ServiceName"] == manifest.OutputRef("service", "ServiceName")


def test_templates_fit_cloudformation_and_the_hand_off_environment_fits_inline():
    """TemplateBody takes 51,200 bytes, a TemplateURL 1 MB (CloudFormation quotas). The deployer
    sends larger templates by S3 URL; dev, the hand-off guide's environment, stays inline."""
    for env in environments():
        assert len((OUT / env / "pipeline.json").read_bytes()) < 1_000_000, env
    assert len((OUT / "dev" / "pipeline.json").read_bytes()) <= 51_200


def test_names_fit_at_the_longest_prefix():
    config = EnvironmentConfig.model_validate(
        {
            "project": "a" * 13,
            "environment": "b" * 10,
            "region": "eu-west-1",
            "network": {"vpc_cidr": "10.0.0.0/16", "subnet_prefix_length": 20},
            "pipeline": {"github_owner": "acme", "github_repository": "shop"},
        }
    )
    assert len(config.prefix) == 24
    for kind, name in naming.all_names(config).items():
        assert len(name) <= naming.LIMITS[kind], (kind, name)
    assert re.fullmatch(r"[A-Za-z0-9-]+", naming.connection(config))
