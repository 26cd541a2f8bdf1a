"""The ``network:`` section of a parameter file."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import StrictModel, check_cidr

# Values accepted by CloudWatch Logs PutRetentionPolicy / AWS::Logs::LogGroup RetentionInDays.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

_ZONE_NAME = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$")


def check_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(v) for v in LOG_RETENTION_DAYS)
        raise ValueError(f"is not a CloudWatch Logs retention period (allowed days: {allowed})")
    return value


class NetworkConfig(StrictModel):
    vpc_cidr: str = Field(description="IPv4 CIDR of the VPC, /16 to /24.")
    availability_zones: int | list[str] = Field(
        2, description="How many zones to use (2-6, picked in order by Fn::GetAZs) or their exact names."
    )
    subnet_prefix_length: int = Field(
        description="Prefix length of every subnet; the VPC is split into blocks of this size."
    )
    nat: Literal["single", "per-az"] = Field(
        "single", description="One shared NAT gateway, or one per zone (no cross-zone dependency)."
    )
    flow_log_retention_days: int = Field(30, description="Retention of the VPC flow-log group.")

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_cidr(cls, value: str) -> str:
        return check_cidr(value, 16, 24)

    @field_validator("availability_zones")
    @classmethod
    def _zones(cls, value: int | list[str]) -> int | list[str]:
        if isinstance(value, int):
            if not 2 <= value <= 6:
                raise ValueError("is not a zone count from 2 to 6 (or give a list of zone names)")
            return value
        if not 2 <= len(value) <= 6:
            raise ValueError("must name 2 to 6 availability zones")
        for name in value:
            if not _ZONE_NAME.match(name):
                raise ValueError(f"has {name!r}, which is not an availability zone name such as eu-west-1a")
        if len(set(value)) != len(value):
            raise ValueError("names the same availability zone twice")
        return value

    @field_validator("flow_log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        return check_retention(value)

    @field_validator("subnet_prefix_length")
    @classmethod
    def _subnet_prefix(cls, value: int) -> int:
        if not 16 <= value <= 28:
            raise ValueError("is not a subnet prefix length AWS accepts (16 to 28)")
        return value

    @model_validator(mode="after")
    def _subnets_fit(self) -> NetworkConfig:
        vpc_prefix = ipaddress.IPv4Network(self.vpc_cidr).prefixlen
        blocks = 2 ** (self.subnet_prefix_length - vpc_prefix) if self.subnet_prefix_length >= vpc_prefix else 0
        if blocks < 2 * self.zone_count:
            raise ValueError(
                f"subnet_prefix_length {self.subnet_prefix_length} leaves room for {blocks} subnets in "
                f"{self.vpc_cidr}, but {self.zone_count} zones need {2 * self.zone_count} "
                f"(use a prefix length of at least {vpc_prefix + (2 * self.zone_count - 1).bit_length()})"
            )
        return self

    @property
    def zone_count(self) -> int:
        return self.availability_zones if isinstance(self.availability_zones, int) else len(self.availability_zones)

    def subnet_cidrs(self) -> tuple[list[str], list[str]]:
        """Public and private subnet CIDRs, one of each per zone.

        Public subnet *i* takes block *i* and private subnet *i* takes block *half + i*,
        so adding a zone later never moves (and so never replaces) an existing subnet.
        """
        vpc = ipaddress.IPv4Network(self.vpc_cidr)
        blocks = list(vpc.subnets(new_prefix=self.subnet_prefix_length))
        half = len(blocks) // 2
        public = [str(blocks[i]) for i in range(self.zone_count)]
        private = [str(blocks[half + i]) for i in range(self.zone_count)]
        return public, private
