"""``services:`` and ``load_balancer:`` in parameter files (several services in one environment):
routes that overlap, rule priorities, name lengths, which engine may share the listeners, keys in
the wrong place, ALB condition limits; every problem is reported at once, as
``<file>: <key.path>: <value> <what is wrong and what is allowed>``.

ALB facts the expectations rest on (Elastic Load Balancing user guide and API reference):
rule priorities 1-50000, unique per listener (API RulePriorityPair, CreateRule); at most five
condition values and five wildcard characters per rule ("Quotas for your Application Load
Balancers", "Condition types for listener rules"); host names need a "." with only letters after the
last one (API HostHeaderConditionConfig); target group names at most 32 characters (CreateTargetGroup).
"""

from __future__ import annotations

import copy
import fnmatch
import itertools
from pathlib import Path

import pytest
import yaml

from blueprints import naming
from blueprints.config import EnvironmentConfig, ParamsError, load_environment
from blueprints.config.routing import CATCH_ALL, MAX_PRIORITY, Route, globs_intersect, path_matches, routes_overlap
from tests.helpers import PARAMS, generate

SHOWN = "params/apps.yaml"
CERT = "arn:aws:acm:eu-west-1:111122223333:certificate/00000000-0000-0000-0000-000000000000"


def apps() -> dict:
    """params/apps.yaml as data: web (ecs) and api (codedeploy), routed by host name."""
    return yaml.safe_load((PARAMS / "apps.yaml").read_text())


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "apps.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def load(tmp_path: Path, data: dict) -> EnvironmentConfig:
    return load_environment(write(tmp_path, data), SHOWN)


def problems(tmp_path: Path, data: dict) -> list[str]:
    with pytest.raises(ParamsError) as error:
        load(tmp_path, data)
    lines = error.value.problems
    assert all(line.startswith(f"{SHOWN}: ") for line in lines), lines
    return lines


def routed(web: dict | None, api: dict | None, web_checks: str = "/", api_checks: str = "/") -> dict:
    """apps.yaml with these routings (None: no routing key) and validation paths."""
    data = apps()
    for name, routing, checks in (("web", web, web_checks), ("api", api, api_checks)):
        entry = data["services"][name]
        entry.pop("routing")
        if routing is not None:
            entry["routing"] = routing
        entry["validation_paths"] = [checks]
    return data


def cloudformation_service(production_port: int | None = 81, test_port: int | None = 8081, **extra) -> dict:
    """A service on the cloudformation engine: listeners of its own on the shared load balancer."""
    entry = copy.deepcopy(apps()["services"]["api"])
    entry.pop("routing")
    entry.update({"deployment_engine": "cloudformation", "container_name": "batch", **extra})
    entry["pipeline"]["github_repository"] = "batch"
    for key, port in (("production_port", production_port), ("test_port", test_port)):
        if port is not None:
            entry[key] = port
    return entry


def test_the_sample_is_valid():
    config = load_environment(PARAMS / "apps.yaml", SHOWN)
    assert config.multi_service
    assert {m.member: m.route for m in config.members()} == {
        "web": Route(priority=10, host_headers=("www.example.com",)),
        "api": Route(priority=20, host_headers=("api.example.com",)),
    }


# --- overlapping routes ------------------------------------------------------------------------

OVERLAPS = {
    "same-path": ({"path_patterns": ["/api/*"]}, {"path_patterns": ["/api/*"]}, "/api/health", "/api/health"),
    "path-inside-catch-all": ({"path_patterns": ["/*"]}, {"path_patterns": ["/api/*"]}, "/", "/api/health"),
    "wildcard-host": (
        {"host_headers": ["www.example.com", "*.example.com"]},
        {"host_headers": ["api.example.com"]},
        "/",
        "/",
    ),
    "host-case": ({"host_headers": ["API.example.com"]}, {"host_headers": ["api.example.com"]}, "/", "/"),
    "path-only-vs-host-only": ({"path_patterns": ["/web/*"]}, {"host_headers": ["api.example.com"]}, "/web/", "/"),
    "same-host-paths-meet": (
        {"host_headers": ["example.com"], "path_patterns": ["/a*b"]},
        {"host_headers": ["example.com"], "path_patterns": ["/a?c*"]},
        "/ab",
        "/axc",
    ),
}


@pytest.mark.parametrize("case", sorted(OVERLAPS))
def test_overlapping_routes_are_rejected(tmp_path, case):
    web, api, web_checks, api_checks = OVERLAPS[case]
    lines = problems(tmp_path, routed(web, api, web_checks, api_checks))
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{SHOWN}: services.api.routing: "), lines
    assert "overlaps the routing of service 'web'" in lines[0]
    assert "make the path patterns or host names disjoint" in lines[0]


@pytest.mark.parametrize(
    "web, api",
    [
        # Different hosts: equal paths do not matter.
        (
            {"host_headers": ["www.example.com"], "path_patterns": ["/app/*"]},
            {"host_headers": ["api.example.com"], "path_patterns": ["/app/*"]},
        ),
        # Path patterns are case-sensitive.
        ({"path_patterns": ["/API/*"]}, {"path_patterns": ["/api/*"]}),
        # The same host, disjoint paths.
        (
            {"host_headers": ["example.com"], "path_patterns": ["/web/*"]},
            {"host_headers": ["example.com"], "path_patterns": ["/api/*"]},
        ),
        # Lengths: /a? is three characters, /abcd four.
        ({"path_patterns": ["/a?"]}, {"path_patterns": ["/abcd"]}),
    ],
)
def test_disjoint_routes_are_accepted(tmp_path, web, api):
    checks = {
        "web": next(iter(web.get("path_patterns", [])), "/").replace("*", "x").replace("?", "b"),
        "api": next(iter(api.get("path_patterns", [])), "/").replace("*", "x").replace("?", "b"),
    }
    config = load(tmp_path, routed(web, api, checks["web"], checks["api"]))
    routes = {m.member: m.route for m in config.members()}
    assert routes["web"] is not None and routes["api"] is not None
    assert not routes_overlap(routes["web"], routes["api"])


# --- priorities -------------------------------------------------------------------------------


def test_duplicate_explicit_priorities_are_rejected(tmp_path):
    data = apps()
    data["services"]["api"]["routing"]["priority"] = 10
    assert problems(tmp_path, data) == [
        f"{SHOWN}: services.api.routing.priority: 10 is already the priority of service 'web'; priorities must be "
        "unique on a listener (set routing.priority)"
    ]


def test_an_explicit_priority_equal_to_a_derived_one_is_rejected(tmp_path):
    # web gives none: it is 10 (10 x its position), which api then takes explicitly.
    data = apps()
    del data["services"]["web"]["routing"]["priority"]
    data["services"]["api"]["routing"]["priority"] = 10
    lines = problems(tmp_path, data)
    assert lines == [
        f"{SHOWN}: services.api.routing.priority: 10 is already the priority of service 'web'; priorities must be "
        "unique on a listener (set routing.priority)"
    ]


def test_a_derived_priority_equal_to_an_explicit_one_is_rejected(tmp_path):
    # api gives none: it would be 20 (second service), which web took explicitly.
    data = apps()
    data["services"]["web"]["routing"]["priority"] = 20
    del data["services"]["api"]["routing"]["priority"]
    lines = problems(tmp_path, data)
    assert lines == [
        f"{SHOWN}: services.api.routing.priority: 20 is derived from the order of services and is already the "
        "priority of service 'web'; priorities must be unique on a listener (set routing.priority)"
    ]


def test_derived_priorities_follow_the_order_of_services(tmp_path):
    data = apps()
    for entry in data["services"].values():
        del entry["routing"]["priority"]
    assert [m.route.priority for m in load(tmp_path, data).members() if m.route] == [10, 20]


@pytest.mark.parametrize("priority", [0, MAX_PRIORITY + 1])
def test_priority_outside_the_alb_range_is_rejected(tmp_path, priority):
    data = apps()
    data["services"]["api"]["routing"]["priority"] = priority
    assert problems(tmp_path, data) == [
        f"{SHOWN}: services.api.routing.priority: {priority} is not a rule priority from 1 to 50000"
    ]


# --- names ------------------------------------------------------------------------------------


def rename(data: dict, old: str, new: str) -> dict:
    data["services"] = {(new if name == old else name): entry for name, entry in data["services"].items()}
    return data


def test_a_service_name_at_the_length_limit_is_accepted(tmp_path):
    # "webapp-apps-" is 12 characters: a 12-character service name makes a 24-character prefix.
    config = load(tmp_path, rename(apps(), "api", "a" * 12))
    member = next(m for m in config.members() if m.member == "a" * 12)
    assert len(member.prefix) == 24
    for kind, name in naming.all_names(member).items():
        assert len(name) <= naming.LIMITS[kind], (kind, name)
    assert len(naming.target_group(member, "green")) == 30


def test_a_service_name_past_the_length_limit_is_rejected(tmp_path):
    assert problems(tmp_path, rename(apps(), "api", "a" * 13)) == [
        f"{SHOWN}: services.{'a' * 13}: '{'a' * 13}' makes the name prefix webapp-apps-{'a' * 13} (25 characters); "
        "at most 24 are allowed so that every derived AWS name fits its limit (target group and GitHub "
        "connection names: 32)"
    ]


@pytest.mark.parametrize("name", ["Api", "1api", "api-", "-api", "a--b", "api_v2", "a" * 17])
def test_a_bad_service_name_is_rejected(tmp_path, name):
    lines = problems(tmp_path, rename(apps(), "api", name))
    assert lines == [
        f"{SHOWN}: services.{name}: {name!r} is not a service name: 1-16 lowercase letters, digits and single "
        "inner hyphens, starting with a letter"
    ]


# --- engines and listeners --------------------------------------------------------------------


def test_cloudformation_with_routing_is_rejected(tmp_path):
    data = apps()
    data["services"]["api"].update(deployment_engine="cloudformation", production_port=81, test_port=8081)
    assert problems(tmp_path, data) == [
        f"{SHOWN}: services.api.routing: {{'host_headers': ['api.example.com'], 'priority': 20}} cannot be used with "
        "engine cloudformation: it moves a whole listener's default action, not a rule, so the service gets "
        "listeners of its own (production_port and test_port) instead"
    ]


@pytest.mark.parametrize("given", [{}, {"production_port": 81}])
def test_cloudformation_without_ports_of_its_own_is_rejected(tmp_path, given):
    data = apps()
    data["services"]["batch"] = cloudformation_service(given.get("production_port"), None)
    missing = " and ".join(key for key in ("production_port", "test_port") if key not in given)
    assert problems(tmp_path, data) == [
        f"{SHOWN}: services.batch.deployment_engine: 'cloudformation' cannot share the environment's listeners (it "
        f"moves a listener's default action, not a rule): set {missing} under services.batch for listeners of its own"
    ]


@pytest.mark.parametrize(
    "ports, shared, expected",
    [
        ((80, 8081), {}, "services.batch.production_port: 80 is already a listener port of load_balancer"),
        ((81, 8080), {}, "services.batch.test_port: 8080 is already a listener port of load_balancer"),
        # With HTTPS, port 80 is the shared redirect listener.
        (
            (80, 8081),
            {"certificate_arn": CERT, "production_port": 443, "test_port": 8443},
            "services.batch.production_port: 80 is already a listener port of load_balancer",
        ),
    ],
)
def test_own_ports_colliding_with_the_shared_listeners_are_rejected(tmp_path, ports, shared, expected):
    data = apps()
    data["load_balancer"].update(shared)
    data["services"]["batch"] = cloudformation_service(*ports)
    assert problems(tmp_path, data) == [f"{SHOWN}: {expected}; every listener of the load balancer needs its own port"]


def test_own_ports_colliding_with_another_services_are_rejected(tmp_path):
    data = apps()
    data["services"]["batch"] = cloudformation_service(81, 8081)
    data["services"]["jobs"] = cloudformation_service(82, 8081, container_name="jobs")
    assert problems(tmp_path, data) == [
        f"{SHOWN}: services.jobs.test_port: 8081 is already a listener port of service 'batch'; every listener of "
        "the load balancer needs its own port"
    ]


def test_cloudformation_with_ports_of_its_own_is_accepted(tmp_path):
    data = apps()
    data["services"]["batch"] = cloudformation_service(81, 8081)
    members = {m.member: m for m in load(tmp_path, data).members()}
    assert members["batch"].route is None
    assert (members["batch"].service.production_port, members["batch"].service.test_port) == (81, 8081)
    # The services that share the listeners take load_balancer's ports.
    assert (members["web"].service.production_port, members["web"].service.test_port) == (80, 8080)


@pytest.mark.parametrize(
    "keys, expected",
    [
        (
            {"certificate_arn": CERT, "allowed_cidrs": ["203.0.113.0/24"]},
            "sets certificate_arn, allowed_cidrs, which every service shares: set them in load_balancer:",
        ),
        ({"test_allowed_cidrs": ["203.0.113.0/24"]}, "sets test_allowed_cidrs, which every service shares"),
        ({"deletion_protection": True}, "sets deletion_protection, which every service shares: set it in"),
        (
            {"production_port": 81},
            "sets production_port, which every service shares: set it in load_balancer: (only a service whose "
            "engine cannot share the listeners, cloudformation, sets its own production_port and test_port)",
        ),
    ],
)
def test_shared_keys_under_a_service_are_rejected(tmp_path, keys, expected):
    data = apps()
    data["services"]["api"].update(keys)
    lines = problems(tmp_path, data)
    assert len(lines) == 1 and lines[0].startswith(f"{SHOWN}: services.api: {expected}"), lines


def test_cloudformation_may_not_set_the_shared_certificate(tmp_path):
    data = apps()
    data["services"]["batch"] = cloudformation_service(81, 8081, certificate_arn=CERT)
    lines = problems(tmp_path, data)
    assert len(lines) == 1 and lines[0].startswith(
        f"{SHOWN}: services.batch: sets certificate_arn, which every service shares: set it in load_balancer:"
    ), lines


# --- layout -----------------------------------------------------------------------------------


def test_service_and_pipeline_beside_services_are_both_rejected(tmp_path):
    data = apps()
    data["service"] = {"container_port": 80}
    data["pipeline"] = {"github_owner": "o", "github_repository": "r"}
    reason = (
        "cannot be used with services: (each service has its keys and its pipeline under services.<name>, "
        "the shared listener settings are in load_balancer:)"
    )
    assert problems(tmp_path, data) == [f"{SHOWN}: service: '...' {reason}", f"{SHOWN}: pipeline: '...' {reason}"]


def test_load_balancer_without_services_is_rejected(tmp_path):
    data = yaml.safe_load((PARAMS / "dev.yaml").read_text())
    data.update(environment="apps", load_balancer={"production_port": 80})
    assert problems(tmp_path, data) == [
        f"{SHOWN}: load_balancer: '...' is used only with services: (a single service: section has its listener "
        "settings itself)"
    ]


@pytest.mark.parametrize("services", [{}, None])
def test_services_must_name_a_service(tmp_path, services):
    data = apps()
    data["services"] = services
    assert problems(tmp_path, data) == [f"{SHOWN}: services: {services!r} must name at least one service"]


def test_several_services_one_without_routing_is_rejected(tmp_path):
    lines = problems(tmp_path, routed({"host_headers": ["www.example.com"]}, None))
    # Only the missing routing: its catch-all is not also reported as overlapping every other route.
    assert lines == [
        f"{SHOWN}: services.api.routing: None is required when several services share the listeners "
        "(path_patterns and/or host_headers); only the one service on the shared listeners may take every request"
    ]


def test_a_single_service_without_routing_takes_every_request(tmp_path):
    data = routed(None, None)
    del data["services"]["api"]
    (member,) = load(tmp_path, data).members()
    assert member.route == CATCH_ALL
    assert (member.route.path_patterns, member.route.host_headers, member.route.priority) == (("*",), (), 50000)


def test_the_only_service_on_the_shared_listeners_may_go_without_routing(tmp_path):
    # A cloudformation service has listeners of its own, so web alone is on the shared ones.
    data = routed(None, None)
    data["services"]["api"] = cloudformation_service(81, 8081)
    routes = {m.member: m.route for m in load(tmp_path, data).members()}
    assert routes == {"web": CATCH_ALL, "api": None}


# --- ALB condition limits ---------------------------------------------------------------------


def test_five_condition_values_are_accepted(tmp_path):
    # At most three values per condition and five per rule: "You can specify up to three match
    # evaluations per condition" / "up to five match evaluations per rule" (ELB user guide,
    # https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html).
    routing = {"host_headers": ["api.example.com", "api2.example.com"], "path_patterns": ["/v1/*", "/v2/*", "/v3/*"]}
    config = load(tmp_path, routed({"host_headers": ["www.example.com"]}, routing, "/", "/v1/health"))
    assert len(config.members()[1].route.path_patterns) == 3


def test_more_than_three_values_in_one_condition_are_rejected(tmp_path):
    routing = {"host_headers": ["api.example.com"], "path_patterns": ["/v1/*", "/v2/*", "/v3/*", "/v4/*"]}
    assert problems(tmp_path, routed({"host_headers": ["www.example.com"]}, routing, "/", "/v1/health")) == [
        f"{SHOWN}: services.api.routing: has 4 path_patterns; an ALB rule condition takes at most 3 values "
        "(Elastic Load Balancing user guide, condition types: match evaluations per condition)"
    ]


def test_more_than_five_condition_values_are_rejected(tmp_path):
    routing = {
        "host_headers": ["api.example.com", "api2.example.com", "api3.example.com"],
        "path_patterns": ["/v1", "/v2", "/v3"],
    }
    assert problems(tmp_path, routed({"host_headers": ["www.example.com"]}, routing, "/", "/v1")) == [
        f"{SHOWN}: services.api.routing: has 6 path patterns and host names; an ALB rule takes at most 5 condition "
        "values (Elastic Load Balancing quotas)"
    ]


def test_more_than_five_wildcards_are_rejected(tmp_path):
    routing = {"host_headers": ["api.example.com", "*.api.example.com"], "path_patterns": ["/v?/*", "/x?/*/*"]}
    assert problems(tmp_path, routed({"host_headers": ["www.example.com"]}, routing, "/", "/v1/a")) == [
        f"{SHOWN}: services.api.routing: has 6 wildcard characters (* and ?) in its path patterns and host names; "
        "an ALB rule takes at most 5 (Elastic Load Balancing quotas)"
    ]


def test_a_wildcard_first_host_is_rejected(tmp_path):
    lines = problems(tmp_path, routed({"host_headers": ["www.example.com"]}, {"host_headers": ["*.api.example.com"]}))
    assert lines == [
        f"{SHOWN}: services.api.routing: host_headers[0] '*.api.example.com' has a wildcard; the validation hook "
        "sends the first host name as its Host header, so it must be an exact name"
    ]


def test_a_wildcard_later_host_is_accepted(tmp_path):
    routing = {"host_headers": ["api.example.com", "*.api.example.com"]}
    config = load(tmp_path, routed({"host_headers": ["www.example.com"]}, routing))
    assert config.members()[1].route.host_headers == ("api.example.com", "*.api.example.com")


@pytest.mark.parametrize("host", ["localhost", "example.c0m", "example.*", "10.0.0.1", "api.example.com.", "a b.com"])
def test_a_host_alb_refuses_is_rejected(tmp_path, host):
    routing = {"host_headers": ["api.example.com", host]}
    lines = problems(tmp_path, routed({"host_headers": ["www.example.com"]}, routing))
    assert len(lines) == 1 and lines[0].startswith(f"{SHOWN}: services.api.routing.host_headers: has {host!r}, ")


@pytest.mark.parametrize("path", ["api/*", "/api/{x}", "/" + "a" * 128])
def test_a_bad_path_pattern_is_rejected(tmp_path, path):
    lines = problems(tmp_path, routed({"host_headers": ["www.example.com"]}, {"path_patterns": [path]}))
    assert len(lines) == 1 and lines[0].startswith(f"{SHOWN}: services.api.routing.path_patterns: has {path!r}, ")


def test_an_empty_routing_is_rejected(tmp_path):
    assert problems(tmp_path, routed({"host_headers": ["www.example.com"]}, {"priority": 30})) == [
        f"{SHOWN}: services.api.routing: needs path_patterns, host_headers or both: a rule needs a condition"
    ]


# --- validation paths -------------------------------------------------------------------------


def test_validation_paths_outside_the_route_are_rejected(tmp_path):
    data = routed({"path_patterns": ["/web/*"]}, {"path_patterns": ["/api/*"]}, "/web/")
    data["services"]["api"]["validation_paths"] = ["/api/health", "/health", "/"]
    assert problems(tmp_path, data) == [
        f"{SHOWN}: services.api.validation_paths: ['/health', '/'] are not routed to this service: the validation "
        "hook requests them through the shared test listener, whose rule for this service matches only ['/api/*']"
    ]


def test_validation_paths_inside_the_route_are_accepted(tmp_path):
    # The query string is not part of what a path-pattern condition matches.
    data = routed({"path_patterns": ["/web/*"]}, {"path_patterns": ["/api/*", "/status"]}, "/web/")
    data["services"]["api"]["validation_paths"] = ["/api/health?deep=1", "/status", "/api/"]
    assert load(tmp_path, data).members()[1].service.validation_paths == ["/api/health?deep=1", "/status", "/api/"]


# --- every problem at once, and the command line ----------------------------------------------


def test_every_problem_of_several_services_is_reported(tmp_path):
    data = apps()
    data["services"]["api"]["routing"] = {"host_headers": ["www.example.com"], "priority": 10}
    data["services"]["batch"] = cloudformation_service(81, 8080)
    data["services"]["Bad"] = copy.deepcopy(data["services"]["web"])
    data["services"]["Bad"]["routing"] = {"host_headers": ["bad.example.com"], "priority": 40}
    lines = problems(tmp_path, data)
    keys = [line.split(": ")[1] for line in lines]
    assert keys == [
        "services.Bad",
        "services.api.routing.priority",
        "services.api.routing",
        "services.batch.test_port",
    ], lines


def test_generate_exits_2_on_overlapping_services_and_writes_nothing(tmp_path):
    params = tmp_path / "params"
    params.mkdir()
    data = apps()
    data["services"]["api"]["routing"]["host_headers"] = ["WWW.example.com"]
    (params / "apps.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "out"
    result = generate("--params-dir", str(params), "--out-dir", str(out))
    assert result.returncode == 2
    assert "apps.yaml: services.api.routing: {'host_headers': ['WWW.example.com']} overlaps the routing of " in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not out.exists()


# --- glob intersection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first, second, meet",
    [
        ("/a*b", "/a?c*", True),  # /axcb
        ("/a*b", "/a*c", False),  # cannot end in both b and c
        ("*", "/anything/at/all", True),
        ("*", "", True),
        ("*", "*", True),
        ("/a?", "/ab", True),
        ("/a?", "/a", False),  # ? is exactly one character
        ("/a?", "/abc", False),
        ("/??", "/a*", True),
        ("/???", "/a?", False),
        ("/api/*", "/api", False),  # the slash after api is required
        ("/api/*", "/*", True),
        ("/API/*", "/api/*", False),  # case-sensitive
        ("*b", "a*", True),  # ab
        ("a*", "b*", False),
        ("*a*", "*b*", True),  # ab
        ("?*?", "x", False),  # at least two characters
        ("", "", True),
        ("", "?", False),
    ],
)
def test_globs_intersect(first, second, meet):
    assert globs_intersect(first, second) is meet
    assert globs_intersect(second, first) is meet


def _matching(pattern: str, strings: list[str]) -> frozenset[str]:
    return frozenset(s for s in strings if fnmatch.fnmatchcase(s, pattern))


def test_globs_intersect_agrees_with_brute_force():
    """Independent oracle: fnmatch (whose * and ? mean what ALB's do, for patterns without [) over every
    string short enough to witness an intersection (each character of a shortest common string is
    consumed by a non-* character of one of the patterns, so length <= len(a) + len(b))."""
    patterns = ["".join(p) for n in range(4) for p in itertools.product("ab*?", repeat=n)]
    strings = ["".join(s) for n in range(7) for s in itertools.product("abc", repeat=n)]
    matches = {p: _matching(p, strings) for p in patterns}
    for first, second in itertools.combinations_with_replacement(patterns, 2):
        assert globs_intersect(first, second) is bool(matches[first] & matches[second]), (first, second)


def test_routes_overlap_needs_both_paths_and_hosts_to_meet():
    api_host = Route(priority=1, host_headers=("api.example.com",))
    api_path = Route(priority=2, path_patterns=("/api/*",))
    assert routes_overlap(api_host, api_path)  # api.example.com/api/x matches both
    assert routes_overlap(api_host, Route(priority=3, host_headers=("*.EXAMPLE.com",)))  # hosts: case-insensitive
    assert not routes_overlap(api_host, Route(priority=3, host_headers=("www.example.com",), path_patterns=("/*",)))
    both = Route(priority=4, host_headers=("api.example.com",), path_patterns=("/v1/*",))
    assert not routes_overlap(both, Route(priority=5, host_headers=("api.example.com",), path_patterns=("/v2/*",)))
    assert routes_overlap(both, Route(priority=5, host_headers=("api.example.com",), path_patterns=("/v?/*",)))
    assert routes_overlap(CATCH_ALL, both)


@pytest.mark.parametrize(
    "pattern, path, matches",
    [
        ("/api/*", "/api/health", True),
        ("/api/*", "/api/health?deep=1", True),
        ("/api/*", "/api", False),
        ("/status", "/status?x=1", True),
        ("/status", "/status/", False),
        ("*", "/", True),
    ],
)
def test_path_matches(pattern, path, matches):
    assert path_matches(pattern, path) is matches


# Where each name limit of naming.LIMITS comes from: (botocore service, shape) with a "max", or a cfn-lint
# resource schema property with maxLength (or a {1,N} pattern). Without a machine-readable oracle (ECS
# names 255, ELB load balancer and target group names 32: ECS and ELB API references, CreateCluster /
# CreateService / RegisterTaskDefinition / CreateLoadBalancer / CreateTargetGroup; stack names 128:
# CloudFormation CreateStack) the value rests on the reference named here.
BOTOCORE_LIMITS = {
    "pipeline": ("codepipeline", "PipelineName"),
    "build_project": ("codebuild", "ProjectName"),
    "notification_rule": ("codestar-notifications", "NotificationRuleName"),
    "repository": ("ecr", "RepositoryName"),
    "log_group": ("logs", "LogGroupName"),
    "role": ("iam", "roleNameType"),
    "codedeploy_application": ("codedeploy", "ApplicationName"),
    "deployment_group": ("codedeploy", "DeploymentGroupName"),
    "connection": ("codestar-connections", "ConnectionName"),
}


def test_name_limits_agree_with_botocore_and_the_bundled_schemas():
    import re as re_module

    import botocore.session
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    session = botocore.session.get_session()
    for kind, (service_name, shape) in BOTOCORE_LIMITS.items():
        assert session.get_service_model(service_name).shape_for(shape).metadata["max"] == naming.LIMITS[kind], kind

    def schema_property(kind: str, prop: str) -> dict:
        return PROVIDER_SCHEMA_MANAGER.get_resource_schema("eu-west-1", kind).schema["properties"][prop]

    assert schema_property("AWS::Logs::LogGroup", "LogGroupName")["maxLength"] == naming.LIMITS["log_group"]
    assert schema_property("AWS::ECR::Repository", "RepositoryName")["maxLength"] == naming.LIMITS["repository"]
    assert schema_property("AWS::IAM::Role", "RoleName")["maxLength"] == naming.LIMITS["role"]
    connection = schema_property("AWS::CodeStarConnections::Connection", "ConnectionName")
    assert connection["maxLength"] == naming.LIMITS["connection"]
    # Lambda's FunctionName: the schema's pattern bounds a plain name at {1,64} (botocore's 140 counts an ARN).
    function = schema_property("AWS::Lambda::Function", "FunctionName")["pattern"]
    assert f"{{1,{naming.LIMITS['hook_function']}}}" in function
    assert re_module.match(function, "a" * naming.LIMITS["hook_function"])
    assert not re_module.match(function, "a" * (naming.LIMITS["hook_function"] + 1))
