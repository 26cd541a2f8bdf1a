"""The ``services:`` section: several services of one environment, each with its own routing,
blue/green engine and pipeline, behind the load balancer of ``load_balancer:``.

Each entry takes every key of a single ``service:`` section except the shared listener settings
(they sit in ``load_balancer:``), plus ``routing`` and ``pipeline``. ``members`` turns the whole
environment into one view per service (an ``EnvironmentConfig`` whose ``service`` and ``pipeline``
are that service's), so the service and pipeline blueprints build a member exactly as they build a
single-service environment.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, model_validator

from ..engines import registry as engine_registry
from .pipeline import PipelineConfig, check_builds_for
from .routing import CATCH_ALL, PRIORITY_STEP, LoadBalancerConfig, Route, Routing, path_matches, routes_overlap
from .service import ServiceConfig

# A short DNS-safe name: it becomes part of every AWS name of the service ("<project>-<env>-<name>").
SERVICE_NAME = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,15}$")
# Listener settings of load_balancer: that a service may not set itself...
SHARED_KEYS = (
    "production_port",
    "test_port",
    "certificate_arn",
    "allowed_cidrs",
    "test_allowed_cidrs",
    "deletion_protection",
)
# ...except the ports, for an engine that needs listeners of its own.
OWN_LISTENER_KEYS = ("production_port", "test_port")


class ServiceEntry(ServiceConfig):
    """One service of ``services:``: a ``service:`` section plus its routing and pipeline."""

    routing: Routing | None = Field(
        None, description="Requests of the shared listeners that go to this service (path patterns, host names)."
    )
    pipeline: PipelineConfig | None = Field(None, description="Release pipeline of this service; none if absent.")

    @model_validator(mode="before")
    @classmethod
    def _no_shared_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        # Checked before the section's own checks, which would judge these keys as the service's
        # (e.g. a certificate_arn with the default production_port 80). Every such key is named.
        engine = data.get("deployment_engine", engine_registry.DEFAULT)
        own_listeners = isinstance(engine, str) and engine in engine_registry.names() and not _shares(engine)
        shared = [key for key in SHARED_KEYS if key in data and not (own_listeners and key in OWN_LISTENER_KEYS)]
        if shared:
            own = " or ".join(name for name in engine_registry.names() if not _shares(name))
            raise ValueError(
                f"sets {', '.join(shared)}, which every service shares: set "
                f"{'it' if len(shared) == 1 else 'them'} in load_balancer:"
                + (
                    f" (only a service whose engine cannot share the listeners, {own}, sets its own "
                    "production_port and test_port)"
                    if set(shared) & set(OWN_LISTENER_KEYS)
                    else ""
                )
            )
        return data

    @model_validator(mode="after")
    def _pipeline_builds_for_the_service(self) -> ServiceEntry:
        check_builds_for(self.pipeline, self.cpu_architecture, "cpu_architecture")
        return self

    def service_config(self, shared: LoadBalancerConfig) -> ServiceConfig:
        """This service as a ``service:`` section: its keys plus the shared listener settings
        (its own ports when its engine needs listeners of its own)."""
        values = self.model_dump(exclude={"routing", "pipeline"}, exclude_unset=True)
        merged = {key: getattr(shared, key) for key in SHARED_KEYS}
        if not _shares(self.deployment_engine):
            merged |= {key: values[key] for key in OWN_LISTENER_KEYS if key in values}
        return ServiceConfig.model_validate({**values, **merged})


def _shares(engine: str) -> bool:
    return bool(engine_registry.get(engine).shares_listeners)


def check_services(
    services: dict[str, ServiceEntry], shared: LoadBalancerConfig, prefix: str, prefix_max: int
) -> list[tuple[str, Any, str]]:
    """Every problem across services, as (key path, value, message)."""
    problems: list[tuple[str, Any, str]] = []
    if not services:
        return [("services", services, "must name at least one service")]
    for name in services:
        if not SERVICE_NAME.match(name):
            problems.append(
                (
                    f"services.{name}",
                    name,
                    "is not a service name: 1-16 lowercase letters, digits and single inner hyphens, "
                    "starting with a letter",
                )
            )
        elif len(f"{prefix}-{name}") > prefix_max:
            problems.append(
                (
                    f"services.{name}",
                    name,
                    f"makes the name prefix {prefix}-{name!s} ({len(prefix) + 1 + len(name)} characters); at most "
                    f"{prefix_max} are allowed so that every derived AWS name fits its limit "
                    "(target group and GitHub connection names: 32)",
                )
            )
    problems += _engine_routing(services)
    # A service that lacks the routing it needs is reported above; it takes no part in the checks
    # of routes (its catch-all would overlap every other route).
    routes = {name: route for name, route in routes_of(services).items() if not _unrouted(services, name)}
    problems += _priorities(services, routes)
    problems += _overlaps(routes)
    problems += _validation_paths(services, routes)
    problems += _own_ports(services, shared)
    return problems


def _sharing(services: dict[str, ServiceEntry]) -> list[str]:
    """The services whose engine shares the environment's listeners (through rules)."""
    return [name for name, entry in services.items() if _shares(entry.deployment_engine)]


def _unrouted(services: dict[str, ServiceEntry], name: str) -> bool:
    """A service without routing among several that share the listeners."""
    return services[name].routing is None and len(_sharing(services)) > 1


def _engine_routing(services: dict[str, ServiceEntry]) -> list[tuple[str, Any, str]]:
    problems: list[tuple[str, Any, str]] = []
    for name, entry in services.items():
        engine = entry.deployment_engine
        if not _shares(engine):
            if entry.routing is not None:
                problems.append(
                    (
                        f"services.{name}.routing",
                        entry.routing.model_dump(exclude_defaults=True),
                        f"cannot be used with engine {engine}: it moves a whole listener's default action, not a "
                        "rule, so the service gets listeners of its own (production_port and test_port) instead",
                    )
                )
            missing = [key for key in OWN_LISTENER_KEYS if key not in entry.model_fields_set]
            if missing:
                problems.append(
                    (
                        f"services.{name}.deployment_engine",
                        engine,
                        "cannot share the environment's listeners (it moves a listener's default action, not a "
                        f"rule): set {' and '.join(missing)} under services.{name} for listeners of its own",
                    )
                )
        elif _unrouted(services, name):
            problems.append(
                (
                    f"services.{name}.routing",
                    None,
                    "is required when several services share the listeners (path_patterns and/or host_headers); "
                    "only the one service on the shared listeners may take every request",
                )
            )
    return problems


def routes_of(services: dict[str, ServiceEntry]) -> dict[str, Route]:
    """The listener rule of each service that shares the listeners, by service name."""
    routes = {}
    for position, (name, entry) in enumerate(services.items(), start=1):
        if not _shares(entry.deployment_engine):
            continue
        if entry.routing is None:
            routes[name] = CATCH_ALL
            continue
        routing = entry.routing
        routes[name] = Route(
            priority=routing.priority if routing.priority is not None else position * PRIORITY_STEP,
            path_patterns=tuple(routing.path_patterns),
            host_headers=tuple(routing.host_headers),
        )
    return routes


def _priorities(services: dict[str, ServiceEntry], routes: dict[str, Route]) -> list[tuple[str, Any, str]]:
    problems = []
    seen: dict[int, str] = {}
    for name, route in routes.items():
        if route.priority in seen:
            given = services[name].routing
            explicit = given is not None and given.priority is not None
            problems.append(
                (
                    f"services.{name}.routing.priority",
                    route.priority,
                    f"is {'' if explicit else 'derived from the order of services and is '}already the priority of "
                    f"service {seen[route.priority]!r}; priorities must be unique on a listener (set routing.priority)",
                )
            )
        else:
            seen[route.priority] = name
    return problems


def _overlaps(routes: dict[str, Route]) -> list[tuple[str, Any, str]]:
    problems = []
    names = list(routes)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            if routes_overlap(routes[first], routes[second]):
                problems.append(
                    (
                        f"services.{second}.routing",
                        _shown(routes[second]),
                        f"overlaps the routing of service {first!r} ({_shown(routes[first])}): one request could match "
                        "both rules, so which service answers would depend on priorities; make the path patterns or "
                        "host names disjoint",
                    )
                )
    return problems


def _shown(route: Route) -> dict[str, list[str]]:
    shown = {}
    if route.path_patterns:
        shown["path_patterns"] = list(route.path_patterns)
    if route.host_headers:
        shown["host_headers"] = list(route.host_headers)
    return shown


def _validation_paths(services: dict[str, ServiceEntry], routes: dict[str, Route]) -> list[tuple[str, Any, str]]:
    problems = []
    for name, route in routes.items():
        if not route.path_patterns:
            continue
        entry = services[name]
        outside = [
            path
            for path in entry.validation_paths
            if not any(path_matches(pattern, path) for pattern in route.path_patterns)
        ]
        if outside:
            problems.append(
                (
                    f"services.{name}.validation_paths",
                    outside,
                    "are not routed to this service: the validation hook requests them through the shared test "
                    f"listener, whose rule for this service matches only {list(route.path_patterns)}",
                )
            )
    return problems


def _own_ports(services: dict[str, ServiceEntry], shared: LoadBalancerConfig) -> list[tuple[str, Any, str]]:
    problems = []
    taken = {port: "load_balancer" for port in shared.reserved_ports}
    for name, entry in services.items():
        if _shares(entry.deployment_engine):
            continue
        for key in OWN_LISTENER_KEYS:
            if key not in entry.model_fields_set:
                continue
            port = getattr(entry, key)
            if port in taken:
                problems.append(
                    (
                        f"services.{name}.{key}",
                        port,
                        f"is already a listener port of {taken[port]}; every listener of the load balancer needs "
                        "its own port",
                    )
                )
            else:
                taken[port] = f"service {name!r}"
    return problems
