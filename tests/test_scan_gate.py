"""blueprints/assets/scan_gate.py, run as CodeBuild runs it: a subprocess calling whatever `aws` is on PATH.

Most tests put a stand-in `aws` first on PATH. It replays responses in the shape botocore's ECR
model (ecr/2015-09-21/service-2.json: DescribeImageScanFindingsResponse, ImageScanFindings,
ImageScanFinding, EnhancedImageScanFinding) documents, prints errors the way AWS CLI v1 does
("An error occurred (Code) when calling the X operation: ...", exit 255), and records its argv.
One test drives the real AWS CLI against moto's ECR on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GATE = ROOT / "blueprints" / "assets" / "scan_gate.py"
REPO = "shop-dev-app"
DIGEST = "sha256:" + "ab12" * 16
OTHER_DIGEST = "sha256:" + "cd34" * 16

FAKE_AWS = """#!{python}
import json, os, sys
args = sys.argv[1:]
state = os.environ["FAKE_AWS_DIR"]
with open(os.path.join(state, "calls.jsonl"), "a") as log:
    log.write(json.dumps(args) + "\\n")
key = args[1]
if "--next-token" in args:
    key += " --next-token " + args[args.index("--next-token") + 1]
with open(os.path.join(state, "scenario.json")) as f:
    replies = json.load(f)[key]
counter = os.path.join(state, "count-" + key.replace(" ", "_"))
n = int(open(counter).read()) if os.path.exists(counter) else 0
open(counter, "w").write(str(n + 1))
reply = replies[min(n, len(replies) - 1)]  # the last reply repeats
if "error" in reply:
    op = "".join(w.title() for w in args[1].split("-"))
    sys.stderr.write("\\nAn error occurred (%s) when calling the %s operation: %s\\n"
                     % (reply["error"], op, reply.get("message", "")))
    sys.exit(reply.get("rc", 255))
print(json.dumps(reply, indent=4))
"""


def finding(severity, cve, package=None, version=None):
    attrs = [{"key": "package_name", "value": package}, {"key": "package_version", "value": version}]
    return {
        "name": cve,
        "uri": f"https://security-tracker.debian.org/tracker/{cve}",
        "severity": severity,
        "attributes": [a for a in attrs if a["value"]] + [{"key": "CVSS2_SCORE", "value": "7.5"}],
    }


def scan(status, counts=None, findings=(), digest=DIGEST, next_token=None, description=None):
    """A DescribeImageScanFindings response; counts=None leaves findingSeverityCounts out."""
    resp = {
        "registryId": "123456789012",
        "repositoryName": REPO,
        "imageId": {"imageDigest": digest, "imageTag": "3f9c2e1"},
        "imageScanStatus": {"status": status, "description": description or f"status {status}"},
    }
    if status in ("COMPLETE", "ACTIVE"):
        resp["imageScanFindings"] = {
            "imageScanCompletedAt": "2024-05-02T10:15:30+00:00",
            "vulnerabilitySourceUpdatedAt": "2024-05-01T22:00:00+00:00",
            "findings": list(findings),
        }
        if counts is not None:
            resp["imageScanFindings"]["findingSeverityCounts"] = counts
    if next_token:
        resp["nextToken"] = next_token
    return resp


NOT_FOUND = {
    "error": "ScanNotFoundException",
    "message": f"Image scan does not exist for the image with '{{imageDigest:'{DIGEST}', "
    f"imageTag:'null'}}' in the repository with name '{REPO}'",
}
CLEAN = scan("COMPLETE", counts={})


class FakeAws:
    def __init__(self, tmp_path: Path):
        self.dir = tmp_path / "fake-aws"
        (self.dir / "bin").mkdir(parents=True)
        exe = self.dir / "bin" / "aws"
        exe.write_text(FAKE_AWS.format(python=sys.executable))
        exe.chmod(0o755)

    def run(self, scenario: dict, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        (self.dir / "scenario.json").write_text(json.dumps(scenario))
        full_env = {"PATH": f"{self.dir / 'bin'}:{os.environ['PATH']}", "FAKE_AWS_DIR": str(self.dir), **(env or {})}
        return subprocess.run(
            [sys.executable, str(GATE), *args], capture_output=True, text=True, env=full_env, timeout=60
        )

    def gate(self, *replies: dict, extra: tuple = (), **kw) -> subprocess.CompletedProcess:
        return self.run(
            {"describe-image-scan-findings": list(replies)},
            "--repository",
            REPO,
            "--digest",
            DIGEST,
            "--region",
            "eu-west-1",
            "--interval",
            "0.05",
            "--timeout",
            "20",
            *extra,
            **kw,
        )

    def calls(self) -> list[list[str]]:
        path = self.dir / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def aws(tmp_path):
    return FakeAws(tmp_path)


def table_row(stdout: str, severity: str) -> list[str]:
    rows = [line.split() for line in stdout.splitlines() if line.split()[:1] == [severity]]
    assert len(rows) >= 1, f"no {severity} row in:\n{stdout}"
    return rows[0]


def test_clean_image_passes(aws):
    result = aws.gate(CLEAN)
    assert result.returncode == 0, result.stdout + result.stderr
    for severity in ("CRITICAL", "HIGH", "MEDIUM"):
        assert table_row(result.stdout, severity) == [severity, "0", "0", "ok"]
    assert table_row(result.stdout, "LOW") == ["LOW", "0", "-", "not", "gated"]
    assert "Top findings" not in result.stdout
    assert "PASS" in result.stdout


def test_high_finding_fails_and_is_listed(aws):
    result = aws.gate(
        scan(
            "COMPLETE",
            {"HIGH": 1, "LOW": 2},
            [
                finding("LOW", "CVE-2023-1111", "zlib", "1.2.13"),
                finding("HIGH", "CVE-2024-2961", "glibc", "2.36-9+deb12u4"),
                finding("LOW", "CVE-2023-2222", "tar", "1.34"),
            ],
        )
    )
    assert result.returncode == 1
    assert table_row(result.stdout, "HIGH") == ["HIGH", "1", "0", "FAIL"]
    assert table_row(result.stdout, "LOW") == ["LOW", "2", "-", "not", "gated"]
    top = result.stdout.split("Top findings (3 of 3):")[1].splitlines()[1]
    assert top.split() == ["HIGH", "CVE-2024-2961", "glibc", "2.36-9+deb12u4"]
    assert "FAIL: HIGH 1 > 0" in result.stdout
    assert "PASS" not in result.stdout


def test_medium_finding_fails(aws):
    result = aws.gate(scan("COMPLETE", {"MEDIUM": 1}, [finding("MEDIUM", "CVE-2024-0727", "openssl", "3.0.11")]))
    assert result.returncode == 1
    assert table_row(result.stdout, "MEDIUM") == ["MEDIUM", "1", "0", "FAIL"]
    assert "CVE-2024-0727" in result.stdout and "openssl 3.0.11" in result.stdout
    assert "FAIL: MEDIUM 1 > 0" in result.stdout


def test_counts_within_configured_allowance_pass(aws):
    result = aws.gate(
        scan("COMPLETE", {"HIGH": 2, "MEDIUM": 5, "LOW": 40}), extra=("--max", "CRITICAL=0,HIGH=2,MEDIUM=5")
    )
    assert result.returncode == 0, result.stdout
    assert table_row(result.stdout, "HIGH") == ["HIGH", "2", "2", "ok"]
    assert table_row(result.stdout, "MEDIUM") == ["MEDIUM", "5", "5", "ok"]
    over = aws.gate(scan("COMPLETE", {"HIGH": 3}), extra=("--max", "CRITICAL=0,HIGH=2,MEDIUM=5"))
    assert over.returncode == 1
    assert table_row(over.stdout, "HIGH") == ["HIGH", "3", "2", "FAIL"]


def test_unlisted_severity_is_not_gated(aws):
    result = aws.gate(scan("COMPLETE", {"CRITICAL": 1, "MEDIUM": 4}), extra=("--max", "HIGH=0"))
    assert result.returncode == 0, result.stdout
    assert table_row(result.stdout, "CRITICAL") == ["CRITICAL", "1", "-", "not", "gated"]


@pytest.mark.parametrize("counts", [{"LOW": 3, "INFORMATIONAL": 7}, None], ids=["only-low", "no-counts-key"])
def test_missing_severity_key_counts_as_zero(aws, counts):
    result = aws.gate(scan("COMPLETE", counts))
    assert result.returncode == 0, result.stdout
    assert table_row(result.stdout, "HIGH") == ["HIGH", "0", "0", "ok"]
    assert table_row(result.stdout, "MEDIUM") == ["MEDIUM", "0", "0", "ok"]


def test_failed_scan_fails_closed(aws):
    result = aws.gate(scan("FAILED", description="Unable to scan the image: manifest not supported"))
    assert result.returncode == 1
    assert "FAILED: Unable to scan the image: manifest not supported" in result.stdout
    assert "PASS" not in result.stdout


@pytest.mark.parametrize(
    "status", ["UNSUPPORTED_IMAGE", "FINDINGS_UNAVAILABLE", "SCAN_ELIGIBILITY_EXPIRED", "NEW_STATUS"]
)
def test_other_statuses_fail_closed(aws, status):
    result = aws.gate(scan(status))
    assert result.returncode == 1
    assert f"FAIL (closed): scan {status}" in result.stdout
    assert len(aws.calls()) == 1  # no point waiting on a terminal status


def test_scan_that_never_completes_fails_after_timeout(aws):
    started = time.monotonic()
    result = aws.gate(scan("IN_PROGRESS"), extra=("--timeout", "1", "--interval", "0.2"))
    assert result.returncode == 1
    assert "not complete after 1s, last status IN_PROGRESS" in result.stdout
    assert len(aws.calls()) >= 2
    assert time.monotonic() - started < 15


def test_in_progress_then_complete_passes_after_polling(aws):
    result = aws.gate(scan("PENDING"), scan("IN_PROGRESS"), scan("IN_PROGRESS"), CLEAN)
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("waiting") == 3
    assert len(aws.calls()) == 4


def test_scan_not_found_then_complete(aws):
    result = aws.gate(
        NOT_FOUND, NOT_FOUND, scan("COMPLETE", {"HIGH": 1}, [finding("HIGH", "CVE-2024-6387", "openssh", "9.2")])
    )
    assert result.returncode == 1  # waited for the scan, then gated on its result
    assert "scan NOT_STARTED, waiting" in result.stdout
    assert table_row(result.stdout, "HIGH") == ["HIGH", "1", "0", "FAIL"]
    assert len(aws.calls()) == 3


def test_scan_never_started_times_out_with_hint(aws):
    result = aws.gate(NOT_FOUND, extra=("--timeout", "0.5", "--interval", "0.1"))
    assert result.returncode == 1
    assert "last status NOT_STARTED (is scan on push enabled?)" in result.stdout


@pytest.mark.parametrize(
    "reply, shown",
    [
        (
            {
                "error": "AccessDeniedException",
                "message": "User is not authorized to perform: ecr:DescribeImageScanFindings",
            },
            "(AccessDeniedException) when calling the DescribeImageScanFindings operation: User is not authorized",
        ),
        (
            {"error": "RepositoryNotFoundException", "message": f"The repository with name '{REPO}' does not exist"},
            "(RepositoryNotFoundException)",
        ),
        (
            {"error": "ImageNotFoundException", "message": "The image does not exist", "rc": 254},
            "(ImageNotFoundException)",
        ),
    ],
)
def test_aws_cli_error_fails_closed(aws, reply, shown):
    result = aws.gate(reply)
    assert result.returncode == 1
    assert "FAIL (closed): AWS CLI error" in result.stdout and shown in result.stdout
    assert "Traceback" not in result.stderr


def test_missing_aws_cli_fails_closed(aws, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = aws.gate(CLEAN, env={"PATH": str(empty)})
    assert result.returncode == 1
    assert "cannot run the AWS CLI" in result.stdout


def test_exact_digest_is_passed_to_the_api(aws):
    assert aws.gate(CLEAN).returncode == 0
    (call,) = aws.calls()
    assert call[:2] == ["ecr", "describe-image-scan-findings"]
    assert call[call.index("--repository-name") + 1] == REPO
    assert call[call.index("--image-id") + 1] == f"imageDigest={DIGEST}"
    assert call[call.index("--region") + 1] == "eu-west-1"
    assert "imageTag" not in " ".join(call)


def test_findings_for_another_digest_fail_closed(aws):
    result = aws.gate(scan("COMPLETE", {}, digest=OTHER_DIGEST))
    assert result.returncode == 1
    assert f"findings are for {OTHER_DIGEST}" in result.stdout


def test_complete_without_findings_object_fails_closed(aws):
    reply = scan("COMPLETE", {})
    del reply["imageScanFindings"]
    result = aws.gate(reply)
    assert result.returncode == 1
    assert "no imageScanFindings" in result.stdout


def test_tag_is_resolved_to_its_digest(aws):
    scenario = {
        "describe-images": [
            {"imageDetails": [{"repositoryName": REPO, "imageDigest": DIGEST, "imageTags": ["3f9c2e1"]}]}
        ],
        "describe-image-scan-findings": [CLEAN],
    }
    result = aws.run(scenario, "--repository", REPO, "--tag", "3f9c2e1")
    assert result.returncode == 0, result.stdout
    describe, findings = aws.calls()
    assert describe[describe.index("--image-ids") + 1] == "imageTag=3f9c2e1"
    assert findings[findings.index("--image-id") + 1] == f"imageDigest={DIGEST}"


def test_findings_pages_are_followed_for_the_top_list(aws):
    page1 = scan(
        "COMPLETE",
        {"CRITICAL": 1, "LOW": 11},
        [finding("LOW", f"CVE-2023-10{i:02d}", "libx", "1.0") for i in range(11)],
        next_token="tok-2",
    )
    page2 = scan("COMPLETE", {"CRITICAL": 1, "LOW": 11}, [finding("CRITICAL", "CVE-2024-3094", "xz-utils", "5.6.0")])
    scenario = {"describe-image-scan-findings": [page1], "describe-image-scan-findings --next-token tok-2": [page2]}
    result = aws.run(scenario, "--repository", REPO, "--digest", DIGEST)
    assert result.returncode == 1
    assert table_row(result.stdout, "CRITICAL") == ["CRITICAL", "1", "0", "FAIL"]
    listed = result.stdout.split("Top findings (10 of 12):")[1].splitlines()[1:11]
    assert listed[0].split() == ["CRITICAL", "CVE-2024-3094", "xz-utils", "5.6.0"]
    assert all(line.split()[0] == "LOW" for line in listed[1:])
    second = aws.calls()[1]
    assert second[second.index("--next-token") + 1] == "tok-2"
    assert second[second.index("--image-id") + 1] == f"imageDigest={DIGEST}"


ENHANCED = {
    "awsAccountId": "123456789012",
    "severity": "HIGH",
    "title": "CVE-2024-45490 - expat",
    "status": "ACTIVE",
    "packageVulnerabilityDetails": {
        "vulnerabilityId": "CVE-2024-45490",
        "vulnerablePackages": [{"name": "expat", "version": "2.5.0", "packageManager": "OS"}],
    },
}


def test_active_enhanced_scan_fails_closed_by_default(aws):
    result = aws.gate(scan("ACTIVE", {}))
    assert result.returncode == 1
    assert "ACTIVE (enhanced scanning)" in result.stdout and "--accept-active" in result.stdout


def test_active_enhanced_scan_is_evaluated_when_accepted(aws):
    reply = scan("ACTIVE", {"HIGH": 1, "UNTRIAGED": 2})
    reply["imageScanFindings"]["enhancedFindings"] = [ENHANCED]
    result = aws.gate(reply, extra=("--accept-active",))
    assert result.returncode == 1
    assert table_row(result.stdout, "UNTRIAGED") == ["UNTRIAGED", "2", "-", "not", "gated"]
    assert "CVE-2024-45490" in result.stdout and "expat 2.5.0" in result.stdout


def test_settings_from_environment(aws):
    scenario = {"describe-image-scan-findings": [scan("COMPLETE", {"HIGH": 1})]}
    env = {
        "SCAN_GATE_REPOSITORY": REPO,
        "SCAN_GATE_DIGEST": DIGEST,
        "AWS_REGION": "ap-south-1",
        "SCAN_GATE_MAX": "HIGH=1",
    }
    result = aws.run(scenario, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert aws.calls()[0][aws.calls()[0].index("--region") + 1] == "ap-south-1"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--digest", DIGEST], "--repository and one of --digest or --tag are required"),
        (["--repository", REPO], "--repository and one of --digest or --tag are required"),
        (["--repository", REPO, "--digest", "3f9c2e1"], "is not sha256:<64 hex digits>"),
        (["--repository", REPO, "--digest", DIGEST, "--max", "HIGH=-1"], "bad allowance 'HIGH=-1'"),
        (["--repository", REPO, "--digest", DIGEST, "--max", "SEVERE=0"], "bad allowance 'SEVERE=0'"),
        (["--repository", REPO, "--digest", DIGEST, "--max", ""], "at least one SEVERITY=COUNT"),
        (["--repository", REPO, "--digest", DIGEST, "--timeout", "0"], "must be > 0"),
        (["--repository", REPO, "--digest", DIGEST, "--interval", "soon"], "--interval"),
    ],
)
def test_bad_usage_exits_2_without_calling_aws(aws, args, message):
    result = aws.run({}, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert aws.calls() == []


# --- the real AWS CLI against moto's ECR ----------------------------------------------------
# moto 5.2.5 raises ScanNotFoundException until start-image-scan, then returns a canned HIGH
# finding (CVE-9999-9999) unless a result is registered for the image through its moto-api
# endpoint; that is enough to exercise the real CLI's output and error format end to end.

AWS_CLI = Path(sys.executable).parent / "aws"  # awscli, a test requirement (setup.cfg)


@pytest.mark.deploy
def test_real_cli_against_moto_ecr(moto_endpoint, tmp_path):
    """On the session's local endpoint (tests/moto_support.py), not reset: a repository of its own."""
    if not AWS_CLI.exists():
        pytest.skip("the AWS CLI is not installed beside this Python")
    repo = f"scan-gate-{os.getpid()}-{int(time.time() * 1000) % 100000}"
    env = {
        "PATH": f"{AWS_CLI.parent}:{os.environ['PATH']}",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "HOME": str(tmp_path),
    }

    def cli(*args):
        out = subprocess.run(
            [str(AWS_CLI), "ecr", *args, "--output", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        return json.loads(out)

    def push(layer):
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1469,
                "digest": "sha256:" + "0" * 64,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 2048,
                    "digest": "sha256:" + layer * 64,
                }
            ],
        }
        return cli(
            "put-image", "--repository-name", repo, "--image-tag", f"t{layer}", "--image-manifest", json.dumps(manifest)
        )["image"]["imageId"]["imageDigest"]

    def gate(digest, *extra):
        return subprocess.run(
            [sys.executable, str(GATE), "--repository", repo, "--digest", digest, "--interval", "0.2", *extra],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    cli("create-repository", "--repository-name", repo)
    vulnerable, clean = push("1"), push("2")

    not_started = gate(vulnerable, "--timeout", "1")
    assert not_started.returncode == 1
    assert "last status NOT_STARTED" in not_started.stdout

    cli("start-image-scan", "--repository-name", repo, "--image-id", f"imageDigest={vulnerable}")
    result = gate(vulnerable, "--timeout", "30")
    assert result.returncode == 1, result.stdout + result.stderr
    assert table_row(result.stdout, "HIGH") == ["HIGH", "1", "0", "FAIL"]
    assert "CVE-9999-9999" in result.stdout and "moto_fake 9.9.9" in result.stdout

    registered = {
        "region": "us-east-1",
        "results": [
            {
                "registryId": "123456789012",
                "repositoryName": repo,
                "imageId": {"imageDigest": clean},
                "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
                "imageScanFindings": {"findings": [], "findingSeverityCounts": {"LOW": 1}},
            }
        ],
    }
    request = urllib.request.Request(
        moto_endpoint + "/moto-api/static/ecr/scan-finding-results", data=json.dumps(registered).encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=10)
    cli("start-image-scan", "--repository-name", repo, "--image-id", f"imageDigest={clean}")
    result = gate(clean, "--timeout", "30")
    assert result.returncode == 0, result.stdout + result.stderr
    assert table_row(result.stdout, "LOW") == ["LOW", "1", "-", "not", "gated"]
