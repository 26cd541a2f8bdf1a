"""Typed, validated configuration of one environment, read from ``params/<env>.yaml``.

``load_environment`` is the only entry point: it returns an ``EnvironmentConfig`` or raises
``ParamsError`` whose lines each name the file, the key path, the bad value and what is allowed.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from .base import KeyProblem, KeyProblems, ParamsError, StrictModel, check_tags, format_validation_error, read_yaml
from .network import NetworkConfig
from .pipeline import PipelineConfig, check_builds_for
from .routing import LoadBalancerConfig, Route
from .service import ServiceConfig
from .services import ServiceEntry, check_services, routes_of

__all__ = [
    "EnvironmentConfig",
    "LoadBalancerConfig",
    "NetworkConfig",
    "ParamsError",
    "PipelineConfig",
    "ServiceConfig",
    "load_environment",
]

# "<project>-<env>" is the prefix of every derived name. The tightest AWS limit on one is
# 32 characters (load balancer and target group names, e.g. "<prefix>-green"), so the
# prefix may be at most 24 characters.
PREFIX_MAX = 24
_PROJECT = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$")
_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9]{0,9}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
# Tags the generator adds to every stack itself.
RESERVED_TAGS = ("Project", "Environment")


class EnvironmentConfig(StrictModel):
    project: str = Field(description="Lowercase DNS-safe project name, the first part of every AWS name.")
    environment: str = Field(description="Environment name; must match the file name params/<environment>.yaml.")
    region: str = Field(description="AWS region of every stack of this environment.")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags on every stack (and so its resources).")
    termination_protection: bool | None = Field(
        None, description="Stack termination protection; defaults to on for prod, off elsewhere."
    )
    network: NetworkConfig
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    pipeline: PipelineConfig | None = Field(
        None, description="Release pipeline (GitHub, image build and scan gate, blue/green deploy); none if absent."
    )
    load_balancer: LoadBalancerConfig | None = Field(
        None, description="With services: the load balancer and listeners every service shares."
    )
    services: dict[str, ServiceEntry] | None = Field(
        None,
        description="Several services behind one load balancer, by short name, each with its routing, "
        "engine and pipeline (instead of service: and pipeline:).",
    )
    # Set on the per-service views of ``members()``: the service this view builds.
    _member: str | None = PrivateAttr(default=None)
    _route: Route | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _one_layout(cls, data: object) -> object:
        if isinstance(data, dict) and "services" in data:
            if data["services"] is None:
                raise KeyProblem("services", None, "must name at least one service")
            problems = [
                KeyProblem(
                    key,
                    "...",
                    "cannot be used with services: (each service has its keys and its pipeline under "
                    "services.<name>, the shared listener settings are in load_balancer:)",
                )
                for key in ("service", "pipeline")
                if key in data
            ]
            if problems:
                raise KeyProblems(problems)
        elif isinstance(data, dict) and "load_balancer" in data:
            raise KeyProblem(
                "load_balancer",
                "...",
                "is used only with services: (a single service: section has its listener settings itself)",
            )
        return data

    @field_validator("project")
    @classmethod
    def _project(cls, value: str) -> str:
        if not _PROJECT.match(value) or len(value) > 20:
            raise ValueError(
                "is not a project name: 2-20 lowercase letters, digits and single hyphens, "
                "starting with a letter and not ending with a hyphen"
            )
        return value

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: str) -> str:
        if not _ENVIRONMENT.match(value):
            raise ValueError("is not an environment name: 1-10 lowercase letters and digits, starting with a letter")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.match(value):
            raise ValueError("is not an AWS region name such as eu-west-1")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key in RESERVED_TAGS:
                raise ValueError(f"sets tag {key!r}, which the generator sets itself")
        return check_tags(value, reserved=len(RESERVED_TAGS))

    @model_validator(mode="after")
    def _prefix_length(self) -> EnvironmentConfig:
        if len(self.prefix) > PREFIX_MAX:
            raise KeyProblem(
                "project",
                self.project,
                f"with environment {self.environment!r} makes the name prefix {self.prefix!r} "
                f"({len(self.prefix)} characters); at most {PREFIX_MAX} are allowed so that every derived "
                "AWS name fits its limit (load balancer and target group names: 32)",
            )
        return self

    @model_validator(mode="after")
    def _zones_in_region(self) -> EnvironmentConfig:
        zones = self.network.availability_zones
        if isinstance(zones, list):
            foreign = [z for z in zones if not (z.startswith(self.region) and len(z) == len(self.region) + 1)]
            if foreign:
                raise KeyProblem(
                    "network.availability_zones",
                    zones,
                    f"has {', '.join(map(repr, foreign))}, not in region {self.region!r} "
                    f"(zones there are named {self.region}a, {self.region}b, ...)",
                )
        return self

    @model_validator(mode="after")
    def _pipeline_builds_for_the_service(self) -> EnvironmentConfig:
        check_builds_for(self.pipeline, self.service.cpu_architecture, "service.cpu_architecture")
        return self

    @model_validator(mode="after")
    def _services(self) -> EnvironmentConfig:
        if self.services is not None:
            problems = check_services(self.services, self.shared_listeners, self.env_prefix, PREFIX_MAX)
            if problems:
                raise KeyProblems([KeyProblem(*problem) for problem in problems])
        return self

    @property
    def shared_listeners(self) -> LoadBalancerConfig:
        return self.load_balancer or LoadBalancerConfig()

    @property
    def multi_service(self) -> bool:
        """Whether the environment has a platform stack and a service stack per service."""
        return self.services is not None

    @property
    def member(self) -> str | None:
        """The service a per-service view builds (None: a single-service environment, or the whole one)."""
        return self._member

    @property
    def route(self) -> Route | None:
        """A member's rule on the shared listeners (None: listeners of its own, or a single service)."""
        return self._route

    def members(self) -> list[EnvironmentConfig]:
        """One view per service of ``services:``, in their order; [] for a single-service environment."""
        if self.services is None:
            return []
        routes = routes_of(self.services)
        views = []
        for name, entry in self.services.items():
            view = self.model_copy(
                update={"service": entry.service_config(self.shared_listeners), "pipeline": entry.pipeline}
            )
            view._member = name
            view._route = routes.get(name)
            views.append(view)
        return views

    @property
    def env_prefix(self) -> str:
        """ "<project>-<env>": the prefix of what the environment's services share."""
        return f"{self.project}-{self.environment}"

    @property
    def prefix(self) -> str:
        """The prefix of every derived name: "<project>-<env>", or "<project>-<env>-<service>" in a
        per-service view of a several-services environment."""
        return self.env_prefix + (f"-{self._member}" if self._member else "")

    @property
    def protected(self) -> bool:
        if self.termination_protection is not None:
            return self.termination_protection
        return self.environment == "prod"

    @property
    def retain_policy(self) -> str:
        """DeletionPolicy for stateful resources: keep them in protected environments."""
        return "Retain" if self.protected else "Delete"

    @property
    def stack_tags(self) -> dict[str, str]:
        return {"Project": self.project, "Environment": self.environment, **self.tags}


def load_environment(path: Path, shown: str | None = None) -> EnvironmentConfig:
    """Read and validate ``params/<env>.yaml``; ``shown`` is the path used in messages."""
    shown = shown or str(path)
    data = read_yaml(path, shown)
    try:
        config = EnvironmentConfig.model_validate(data)
    except ValidationError as exc:
        raise format_validation_error(shown, EnvironmentConfig, exc) from None
    except KeyProblem as exc:
        raise ParamsError([exc.line(shown)]) from None
    except KeyProblems as exc:
        raise ParamsError([problem.line(shown) for problem in exc.problems]) from None
    if config.environment != path.stem:
        raise ParamsError([f"{shown}: environment: {config.environment!r} must match the file name ({path.stem!r})"])
    return config
