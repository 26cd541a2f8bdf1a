"""Several services in one environment: the ``load_balancer:`` section they share, and each
service's ``routing:`` on the shared listeners.

An environment with ``services:`` has one platform stack (cluster, load balancer, production and
test listeners whose default action answers 404) and, per service, a service stack whose listener
rules send the service's requests to its own target groups. ALB facts used here (Elastic Load
Balancing user guide, "Listener rules for your Application Load Balancer" and "Quotas for your
Application Load Balancers"): rule priorities 1-50000, unique per listener; at most five condition
values and five wildcard characters per rule; path patterns and host names up to 128 characters,
with the wildcards ``*`` and ``?``; path patterns are case-sensitive, host names are not; a host
name has at least one "." and only letters after the last one (API reference,
HostHeaderConditionConfig).
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_HostHeaderConditionConfig.html
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pydantic import Field, field_validator, model_validator

from .base import StrictModel, check_certificate_arn, check_cidr_list, check_port

MAX_PRIORITY = 50000
MAX_CONDITION_VALUES = 5
# "You can specify up to three match evaluations per condition" (ELB user guide, condition types).
MAX_VALUES_PER_CONDITION = 3
MAX_WILDCARDS = 5
MAX_VALUE_LENGTH = 128
# Derived priorities: 10, 20, 30 ... in the order of ``services:``, leaving room for explicit ones.
PRIORITY_STEP = 10
_PATH_PATTERN = re.compile(r"^/[A-Za-z0-9_\-.$/~\"'@:+&*?]*$")
_HOST_HEADER = re.compile(r"^[A-Za-z0-9\-.*?]+$")
# "You must include at least one "." character. You can include only alphabetical characters after
# the final "." character." (HostHeaderConditionConfig Values)
_HOST_ENDING = re.compile(r"\.[A-Za-z]+$")


class Routing(StrictModel):
    """Which requests of the shared listeners belong to one service."""

    path_patterns: list[str] = Field(
        default_factory=list, description="Path patterns (case-sensitive, * and ? wildcards), e.g. /api/*."
    )
    host_headers: list[str] = Field(
        default_factory=list, description="Host names (* and ? wildcards), e.g. api.example.com."
    )
    priority: int | None = Field(
        None, description="Rule priority 1-50000 on both listeners; default 10 × the service's position."
    )

    @field_validator("path_patterns")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if not isinstance(pattern, str) or not _PATH_PATTERN.match(pattern) or len(pattern) > MAX_VALUE_LENGTH:
                raise ValueError(
                    f"has {pattern!r}, which is not a path pattern: starts with /, at most {MAX_VALUE_LENGTH} "
                    "characters of A-Z a-z 0-9 _-.$/~\"'@:+& and the wildcards * and ?"
                )
        if len(set(value)) != len(value):
            raise ValueError("lists the same path pattern twice")
        return value

    @field_validator("host_headers")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for host in value:
            if not isinstance(host, str) or not _HOST_HEADER.match(host) or len(host) > MAX_VALUE_LENGTH:
                raise ValueError(
                    f"has {host!r}, which is not a host name: at most {MAX_VALUE_LENGTH} characters of "
                    "A-Z a-z 0-9 - . and the wildcards * and ?"
                )
            if not _HOST_ENDING.search(host):
                raise ValueError(
                    f"has {host!r}, which an ALB host-header condition refuses: it needs at least one '.' and "
                    "only letters after the last '.' (e.g. api.example.com, *.example.com)"
                )
        if len({h.lower() for h in value}) != len(value):
            raise ValueError("lists the same host name twice")
        return value

    @field_validator("priority")
    @classmethod
    def _priority(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= MAX_PRIORITY:
            raise ValueError(f"is not a rule priority from 1 to {MAX_PRIORITY}")
        return value

    @model_validator(mode="after")
    def _conditions(self) -> Routing:
        values = len(self.path_patterns) + len(self.host_headers)
        if values == 0:
            raise ValueError("needs path_patterns, host_headers or both: a rule needs a condition")
        for key, listed in (("path_patterns", self.path_patterns), ("host_headers", self.host_headers)):
            if len(listed) > MAX_VALUES_PER_CONDITION:
                raise ValueError(
                    f"has {len(listed)} {key}; an ALB rule condition takes at most {MAX_VALUES_PER_CONDITION} "
                    "values (Elastic Load Balancing user guide, condition types: match evaluations per condition)"
                )
        if values > MAX_CONDITION_VALUES:
            raise ValueError(
                f"has {values} path patterns and host names; an ALB rule takes at most {MAX_CONDITION_VALUES} "
                "condition values (Elastic Load Balancing quotas)"
            )
        wildcards = sum(value.count("*") + value.count("?") for value in [*self.path_patterns, *self.host_headers])
        if wildcards > MAX_WILDCARDS:
            raise ValueError(
                f"has {wildcards} wildcard characters (* and ?) in its path patterns and host names; an ALB rule "
                f"takes at most {MAX_WILDCARDS} (Elastic Load Balancing quotas)"
            )
        if self.host_headers and any(c in self.host_headers[0] for c in "*?"):
            raise ValueError(
                f"host_headers[0] {self.host_headers[0]!r} has a wildcard; the validation hook sends the first host "
                "name as its Host header, so it must be an exact name"
            )
        return self


class LoadBalancerConfig(StrictModel):
    """The load balancer and listeners every service of the environment shares."""

    production_port: int = Field(80, description="Port of the shared production listener.")
    test_port: int = Field(8080, description="Port of the shared test listener the validation hooks call.")
    certificate_arn: str | None = Field(
        None, description="ACM certificate: listeners use HTTPS, and port 80 redirects to the production port."
    )
    allowed_cidrs: list[str] = Field(["0.0.0.0/0"], description="CIDRs that may reach the production listeners.")
    test_allowed_cidrs: list[str] = Field(
        default_factory=list, description="CIDRs that may reach the test listeners (the hooks always may)."
    )
    deletion_protection: bool | None = Field(
        None, description="Load balancer deletion protection; defaults to the environment's protection."
    )

    @field_validator("production_port", "test_port")
    @classmethod
    def _port(cls, value: int) -> int:
        return check_port(value)

    @field_validator("certificate_arn")
    @classmethod
    def _certificate(cls, value: str | None) -> str | None:
        return check_certificate_arn(value)

    @field_validator("allowed_cidrs", "test_allowed_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        return check_cidr_list(value)

    @model_validator(mode="after")
    def _ports(self) -> LoadBalancerConfig:
        if len(set(self.reserved_ports)) != len(self.reserved_ports):
            raise ValueError(
                "production_port and test_port must differ"
                + (" and neither may be 80, which redirects to HTTPS when certificate_arn is set" if self.https else "")
            )
        return self

    @property
    def https(self) -> bool:
        return self.certificate_arn is not None

    @property
    def reserved_ports(self) -> list[int]:
        """Ports of the shared listeners (80 too when it redirects to HTTPS)."""
        return [self.production_port, self.test_port] + ([80] if self.https else [])


@dataclass(frozen=True)
class Route:
    """One service's listener rule on the shared listeners (the same on production and test)."""

    priority: int
    path_patterns: tuple[str, ...] = ()
    host_headers: tuple[str, ...] = ()

    @property
    def catch_all(self) -> bool:
        return self.path_patterns == ("*",) and not self.host_headers


# The route of an environment's only service when it gives no routing: every request.
CATCH_ALL = Route(priority=MAX_PRIORITY, path_patterns=("*",))


@lru_cache(maxsize=4096)
def globs_intersect(first: str, second: str) -> bool:
    """Whether some string matches both glob patterns (``*`` any run, ``?`` one character)."""
    seen: set[tuple[int, int]] = set()
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        a = first[i] if i < len(first) else None
        b = second[j] if j < len(second) else None
        if a is None and b is None:
            return True
        # A star may match nothing.
        if a == "*":
            todo.append((i + 1, j))
        if b == "*":
            todo.append((i, j + 1))
        if a is None or b is None:
            continue
        # Both consume one character they can agree on.
        if a == "*" and b == "*":
            todo.append((i + 1, j + 1))
        elif a == "*":
            todo.append((i, j + 1))
        elif b == "*":
            todo.append((i + 1, j))
        elif a == "?" or b == "?" or a == b:
            todo.append((i + 1, j + 1))
    return False


def _any_intersect(first: tuple[str, ...], second: tuple[str, ...]) -> bool:
    # A route without values of a kind matches every value of that kind.
    if not first or not second:
        return True
    return any(globs_intersect(a, b) for a in first for b in second)


def routes_overlap(first: Route, second: Route) -> bool:
    """Whether one request can match both routes (path patterns case-sensitive, hosts not)."""
    hosts_a = tuple(h.lower() for h in first.host_headers)
    hosts_b = tuple(h.lower() for h in second.host_headers)
    return _any_intersect(first.path_patterns, second.path_patterns) and _any_intersect(hosts_a, hosts_b)


def path_matches(pattern: str, path: str) -> bool:
    """Whether ``path`` (a literal) matches the path pattern, as the validation hook's request would."""
    # The query string is not part of what a path-pattern condition matches.
    literal = path.split("?", 1)[0].replace("*", "")
    return globs_intersect(pattern, literal)
