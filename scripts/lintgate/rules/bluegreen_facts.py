"""What the project's cfn-lint rules know about the AWS::CodeDeployBlueGreen transform.

Documented facts only; the rule modules import them, and template_helpers.py reads templates.

Source for every fact here: AWS CloudFormation User Guide, "Perform ECS blue/green deployments
through CodeDeploy using CloudFormation" with its pages "AWS::CodeDeploy::BlueGreen hook syntax"
(property list with Required and valid values), "Considerations when managing ECS blue/green
deployments using CloudFormation" and "Blue/green deployment template example":
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green.html
"""

from __future__ import annotations

TRANSFORM = "AWS::CodeDeployBlueGreen"
HOOK_TYPE = "AWS::CodeDeploy::BlueGreen"
SERVICE = "AWS::ECS::Service"
TASK_DEFINITION = "AWS::ECS::TaskDefinition"
TASK_SET = "AWS::ECS::TaskSet"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
NESTED_STACK = "AWS::CloudFormation::Stack"

TRAFFIC_ROUTING_TYPES = ("AllAtOnce", "TimeBasedCanary", "TimeBasedLinear")
LIFECYCLE_EVENTS = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")
# "The step percentage must be 14% or greater" (hook syntax page, both TimeBasedCanary and TimeBasedLinear).
MIN_STEP_PERCENTAGE = 14
# The hook page gives no range for TerminationWaitTimeInMinutes. The hook runs a CodeDeploy ECS
# deployment, whose BlueInstanceTerminationOption.terminationWaitTimeInMinutes is documented as
# "The maximum setting is 2880 minutes (2 days)" (CodeDeploy API reference); 0 is CodeDeploy's minimum.
MAX_TERMINATION_WAIT = 2880

# How the limit rules (E9104) name the templates they apply to.
LIMITED_TEMPLATE = f"a template using the {TRANSFORM} transform"
