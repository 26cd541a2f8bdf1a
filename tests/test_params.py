"""Parameter files: every class of bad input is reported with file, key, value and what is
allowed, exits 2, and leaves out/ byte-identical (nothing is written)."""

from __future__ import annotations

import shutil

import pytest

from tests.helpers import OUT, PARAMS, copy_params, edit_params, generate, tree_digest


def _set(path: tuple, value):
    def change(data):
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def _delete(path: tuple):
    def change(data):
        node = data
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


BAD_INPUTS = {
    "cidr-prefix-out-of-range": (
        _set(("network", "vpc_cidr"), "10.0.0.0/33"),
        "network.vpc_cidr: '10.0.0.0/33' is not an IPv4 CIDR between /16 and /24",
    ),
    "cidr-too-large": (
        _set(("network", "vpc_cidr"), "10.0.0.0/8"),
        "network.vpc_cidr: '10.0.0.0/8' is not an IPv4 CIDR between /16 and /24",
    ),
    "cidr-garbage": (_set(("network", "vpc_cidr"), "ten.zero"), "network.vpc_cidr: 'ten.zero' is not an IPv4 CIDR"),
    "unknown-key": (
        _set(("network", "vpc_cdir"), "10.0.0.0/16"),
        "network.vpc_cdir: unknown key (allowed keys: availability_zones, flow_log_retention_days, "
        "nat, subnet_prefix_length, vpc_cidr)",
    ),
    "unknown-top-level-key": (_set(("netwrok",), {}), "netwrok: unknown key (allowed keys:"),
    "missing-key": (_delete(("network", "vpc_cidr")), "network.vpc_cidr: is required"),
    "nat-mode": (
        _set(("network", "nat"), "double"),
        "network.nat: 'double' is not allowed (allowed: 'single' or 'per-az')",
    ),
    "zone-count": (
        _set(("network", "availability_zones"), 7),
        "network.availability_zones: 7 is not a zone count from 2 to 6",
    ),
    "zone-name": (
        _set(("network", "availability_zones"), ["eu-west-1a", "mars-1a"]),
        "network.availability_zones: has 'mars-1a', which is not an availability zone name",
    ),
    "retention": (
        _set(("network", "flow_log_retention_days"), 10),
        "network.flow_log_retention_days: 10 is not a CloudWatch Logs retention period (allowed days: 1, 3,",
    ),
    "subnets-do-not-fit": (
        _set(("network", "subnet_prefix_length"), 17),
        "network: subnet_prefix_length 17 leaves room for 2 subnets in 10.20.0.0/16, "
        "but 2 zones need 4 (use a prefix length of at least 18)",
    ),
    "project-name": (_set(("project",), "Web_App"), "project: 'Web_App' is not a project name"),
    "project-too-long": (
        _set(("project",), "a-very-long-project-name"),
        "project: 'a-very-long-project-name' is not a project name",
    ),
    "zones-of-another-region": (
        _set(("network", "availability_zones"), ["us-east-1a", "us-east-1b"]),
        "network.availability_zones: ['us-east-1a', 'us-east-1b'] has 'us-east-1a', "
        "'us-east-1b', not in region 'eu-west-1'",
    ),
    "region": (_set(("region",), "europe"), "region: 'europe' is not an AWS region name such as eu-west-1"),
    "environment-mismatch": (_set(("environment",), "stage"), "environment: 'stage' must match the file name ('dev')"),
    "tag-key-reserved-prefix": (
        _set(("tags",), {"aws:owner": "x"}),
        "tags: has tag key 'aws:owner': the aws: prefix is reserved",
    ),
    "tag-value-chars": (_set(("tags",), {"Owner": "a#b"}), "tags: has an invalid value 'a#b' for tag 'Owner'"),
    "tag-generator-owned": (
        _set(("tags",), {"Project": "x"}),
        "tags: sets tag 'Project', which the generator sets itself",
    ),
    "wrong-type": (
        _set(("network", "subnet_prefix_length"), "twenty"),
        "network.subnet_prefix_length: 'twenty' must be a whole number",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_reported_and_nothing_is_written(tmp_path, case):
    change, expected = BAD_INPUTS[case]
    params = copy_params(tmp_path, ("dev", "prod"))
    edit_params(params / "dev.yaml", change)
    out = tmp_path / "out"
    shutil.copytree(OUT, out)
    before = tree_digest(out)

    result = generate("--params-dir", str(params), "--out-dir", str(out))

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"dev.yaml: {expected}" in result.stderr, result.stderr
    assert tree_digest(out) == before


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    params = copy_params(tmp_path)
    (params / "dev.yaml").write_text("project: webapp\nnetwork: [unclosed\n")
    result = generate("--params-dir", str(params), "--out-dir", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "dev.yaml: line 3, column 1:" in result.stderr
    assert not (tmp_path / "out").exists()


def test_duplicate_yaml_key_is_an_error(tmp_path):
    params = copy_params(tmp_path)
    text = (PARAMS / "dev.yaml").read_text().replace("region: eu-west-1", "region: eu-west-1\nregion: us-east-1")
    (params / "dev.yaml").write_text(text)
    result = generate("--params-dir", str(params), "--out-dir", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "duplicate key 'region'" in result.stderr


def test_one_bad_environment_blocks_all_writes(tmp_path):
    """All environments are validated before any is written."""
    params = copy_params(tmp_path, ("dev", "prod"))
    edit_params(params / "prod.yaml", _set(("network", "nat"), "none"))
    out = tmp_path / "out"
    result = generate("--params-dir", str(params), "--out-dir", str(out))
    assert result.returncode == 2
    assert "prod.yaml: network.nat:" in result.stderr
    assert not out.exists()


def test_every_problem_is_listed_at_once(tmp_path):
    params = copy_params(tmp_path)
    edit_params(params / "dev.yaml", lambda d: d["network"].update(nat="x", flow_log_retention_days=2))
    result = generate("--params-dir", str(params), "--out-dir", str(tmp_path / "out"))
    assert "network.nat:" in result.stderr and "network.flow_log_retention_days:" in result.stderr


def test_unknown_environment_is_bad_usage(tmp_path):
    result = generate("--env", "nosuchenv", "--out-dir", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "--env: unknown environment 'nosuchenv' (available: " in result.stderr


def test_name_prefix_too_long_names_the_project_key(tmp_path):
    params = copy_params(tmp_path)
    text = (params / "dev.yaml").read_text().replace("project: webapp", "project: twenty-char-project1")
    (params / "production.yaml").write_text(text.replace("environment: dev", "environment: production"))
    (params / "dev.yaml").unlink()
    result = generate("--params-dir", str(params), "--out-dir", str(tmp_path / "out"))
    assert result.returncode == 2
    assert (
        "production.yaml: project: 'twenty-char-project1' with environment 'production' makes the name "
        "prefix 'twenty-char-project1-production' (31 characters); at most 24 are allowed"
    ) in result.stderr
    assert not (tmp_path / "out").exists()
