"""The ecs engine's production traffic shifts (ECS CANARY and LINEAR strategies, October 2025)
and AWS's limits on them, apart from the engine so that its module stays about building."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ..config.service import ServiceConfig

# ECS blue/green: BakeTimeInMinutes 0-1440.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ecs-service-deploymentconfiguration.html
ECS_MAX_BAKE_TIME_MINUTES = 1440
# ECS CANARY and LINEAR (October 2025): CanaryPercent 0.1-100 and StepPercent 3-100 (multiples of
# 0.1), CanaryBakeTimeInMinutes and StepBakeTimeInMinutes 0-1440; CloudFormation rejects a canary or
# linear configuration whose computed time exceeds 33 hours (its operations time out after 36):
# BakeTimeInMinutes + CanaryBakeTimeInMinutes, or BakeTimeInMinutes + StepBakeTimeInMinutes x steps.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ecs-service-canaryconfiguration.html
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ecs-service-linearconfiguration.html
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CanaryConfiguration.html
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_LinearConfiguration.html
ECS_CANARY_PERCENT = (0.1, 100.0)
ECS_STEP_PERCENT = (3.0, 100.0)
ECS_STEP_BAKE_MINUTES = (0, 1440)
CFN_MAX_SHIFT_MINUTES = 33 * 60


@dataclass(frozen=True)
class Shift:
    """A CANARY or LINEAR shift of production traffic: the percent moved per step and the minutes
    ECS waits after a step (CanaryBakeTimeInMinutes / StepBakeTimeInMinutes)."""

    strategy: Literal["CANARY", "LINEAR"]
    percent: float
    step_bake_minutes: int

    @property
    def baked_steps(self) -> int:
        """Steps followed by a step bake time, as CloudFormation counts them: one for a canary; for
        a linear shift floor(100 / StepPercent), one fewer when StepPercent divides 100 (no step
        bake time after reaching 100 percent). Counted in tenths of a percent, ECS's resolution."""
        if self.strategy == "CANARY":
            return 1
        tenths = round(self.percent * 10)
        return 1000 // tenths - (1 if 1000 % tenths == 0 else 0)

    @property
    def minutes(self) -> int:
        """Minutes the shift adds to the bake time in CloudFormation's count (and on the clock)."""
        return self.baked_steps * self.step_bake_minutes


# params deployment_config -> ECS shift; AllAtOnce is BLUE_GREEN (no shift), custom reads
# custom_deployment. The names and numbers are CodeDeploy's predefined ECS configurations.
PREDEFINED_SHIFTS = {
    "Canary10Percent5Minutes": Shift("CANARY", 10, 5),
    "Canary10Percent15Minutes": Shift("CANARY", 10, 15),
    "Linear10PercentEvery1Minutes": Shift("LINEAR", 10, 1),
    "Linear10PercentEvery3Minutes": Shift("LINEAR", 10, 3),
}


def deployment_shift(service: ServiceConfig) -> Shift | None:
    """The production traffic shift of ``deployment_config``; None for AllAtOnce (BLUE_GREEN)."""
    custom = service.custom_deployment
    if service.deployment_config == "custom" and custom is not None:
        return Shift("CANARY" if custom.type == "canary" else "LINEAR", custom.percentage, custom.interval_minutes)
    return PREDEFINED_SHIFTS.get(service.deployment_config)
