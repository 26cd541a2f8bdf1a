#!/usr/bin/env python3
"""ECR scan gate: wait for the scan of one pushed image digest, then pass or fail the build.

Exit 0 pass; 1 over an allowance or scan not COMPLETE or AWS CLI error (fail closed); 2 usage.
Standard library only (CodeBuild has the AWS CLI, not always boto3).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

# Most severe first; UNTRIAGED exists only in enhanced (Inspector) results.
ORDER = ["CRITICAL", "HIGH", "MEDIUM", "UNTRIAGED", "LOW", "INFORMATIONAL", "UNDEFINED"]
TOP = 10


class AwsError(Exception):
    pass


def aws(region, *args):
    # --no-paginate: one API call per run, raw response keeping nextToken.
    cmd = ["aws", *args, "--output", "json", "--no-paginate"] + (["--region", region] if region else [])
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AwsError(f"cannot run the AWS CLI: {exc}")
    if proc.returncode:
        raise AwsError(proc.stderr.strip() or f"aws exit status {proc.returncode}")
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise AwsError(f"not JSON: {proc.stdout[:200]!r}")


def parse_max(text):
    allowed = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, count = item.partition("=")
        if name.strip().upper() not in ORDER or not count.strip().isdigit():
            raise argparse.ArgumentTypeError(
                f"bad allowance {item!r}: use SEVERITY=COUNT, COUNT >= 0, SEVERITY in {','.join(ORDER)}")
        allowed[name.strip().upper()] = int(count)
    if not allowed:
        raise argparse.ArgumentTypeError("give at least one SEVERITY=COUNT")
    return allowed


def positive(text):
    if float(text) > 0:
        return float(text)
    raise argparse.ArgumentTypeError(f"must be > 0, got {text}")


def finding_row(f):
    if "packageVulnerabilityDetails" in f:
        d = f["packageVulnerabilityDetails"] or {}
        pkg = (d.get("vulnerablePackages") or [{}])[0]
        name, parts = d.get("vulnerabilityId"), [pkg.get("name"), pkg.get("version")]
    else:
        attrs = {x.get("key"): x.get("value") for x in f.get("attributes") or []}
        name, parts = f.get("name"), [attrs.get("package_name"), attrs.get("package_version")]
    return f.get("severity") or "?", name or "?", " ".join(filter(None, parts))


def main(argv=None):
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repository", default=env("SCAN_GATE_REPOSITORY"), help="ECR repository name")
    p.add_argument("--digest", default=env("SCAN_GATE_DIGEST"), help="pushed digest, sha256:...")
    p.add_argument("--tag", default=env("SCAN_GATE_TAG"), help="resolve the digest from this tag")
    p.add_argument("--region", default=env("AWS_REGION") or env("AWS_DEFAULT_REGION"))
    p.add_argument("--max", type=parse_max, default=env("SCAN_GATE_MAX", "CRITICAL=0,HIGH=0,MEDIUM=0"),
                   help="allowed count per severity; unlisted severities are not gated")
    p.add_argument("--timeout", type=positive, default=env("SCAN_GATE_TIMEOUT", "600"), help="seconds")
    p.add_argument("--interval", type=positive, default=env("SCAN_GATE_INTERVAL", "5"), help="seconds")
    p.add_argument("--accept-active", action="store_true", help="evaluate an enhanced scan's ACTIVE status")
    a = p.parse_args(argv)  # environment: SCAN_GATE_<OPTION>, AWS_REGION
    if not a.repository or not (a.digest or a.tag):
        p.error("--repository and one of --digest or --tag are required")
    if a.digest and not re.fullmatch(r"sha256:[0-9a-f]{64}", a.digest):
        p.error(f"--digest {a.digest!r} is not sha256:<64 hex digits>")
    try:
        return gate(a)
    except AwsError as exc:
        print(f"FAIL (closed): AWS CLI error:\n{exc}")
        return 1


def wait_for_scan(a, base):
    deadline = time.monotonic() + a.timeout
    while True:
        try:
            resp = aws(a.region, *base)
            status = (resp.get("imageScanStatus") or {}).get("status", "MISSING")
        except AwsError as exc:
            if "(ScanNotFoundException)" not in str(exc):
                raise
            resp, status = {}, "NOT_STARTED"
        if status == "COMPLETE" or (status == "ACTIVE" and a.accept_active):
            return resp, status, None
        if status == "ACTIVE":
            # Enhanced scans stay ACTIVE and may show no findings before Inspector has any.
            return resp, status, "ACTIVE (enhanced scanning): pass --accept-active to trust it"
        if status not in ("IN_PROGRESS", "PENDING", "NOT_STARTED"):
            why = (resp.get("imageScanStatus") or {}).get("description") or "no description"
            return resp, status, f"{status}: {why}"
        left = deadline - time.monotonic()
        if left <= 0:
            hint = " (is scan on push enabled?)" if status == "NOT_STARTED" else ""
            return resp, status, f"not complete after {a.timeout:g}s, last status {status}{hint}"
        print(f"  scan {status}, waiting ({left:.0f}s left)", flush=True)
        time.sleep(min(a.interval, left))


def gate(a):
    digest = a.digest
    if not digest:
        found = aws(a.region, "ecr", "describe-images", "--repository-name", a.repository,
                    "--image-ids", f"imageTag={a.tag}").get("imageDetails") or []
        digest = found[0].get("imageDigest") if len(found) == 1 else None
        if not digest:
            print(f"FAIL: tag {a.tag!r} does not name one image in {a.repository}")
            return 1
    print(f"Scan gate for {a.repository}@{digest}")
    base = ["ecr", "describe-image-scan-findings", "--repository-name", a.repository,
            "--image-id", f"imageDigest={digest}"]
    resp, status, problem = wait_for_scan(a, base)
    got = (resp.get("imageId") or {}).get("imageDigest")
    if not problem and got and got != digest:
        problem = f"findings are for {got}, not {digest}"
    results = resp.get("imageScanFindings")
    if not problem and results is None:
        problem = f"status {status} but no imageScanFindings in the response"
    if problem:
        print(f"FAIL (closed): scan {problem}")
        return 1

    counts = results.get("findingSeverityCounts") or {}  # a missing severity means zero
    findings = (results.get("findings") or []) + (results.get("enhancedFindings") or [])
    token, pages = resp.get("nextToken"), 1
    while token and pages < 50:  # counts are whole on page 1; pages only feed the top list
        page = aws(a.region, *base, "--next-token", token)
        more = page.get("imageScanFindings") or {}
        findings += (more.get("findings") or []) + (more.get("enhancedFindings") or [])
        token, pages = page.get("nextToken"), pages + 1

    failed, extra = [], sorted(set(counts) - set(ORDER))
    print(f"\n{'SEVERITY':<14}{'COUNT':>6}{'ALLOWED':>9}  VERDICT")
    for sev in [s for s in ORDER if s != "UNTRIAGED" or s in counts or s in a.max] + extra:
        count, limit = int(counts.get(sev, 0)), a.max.get(sev)
        verdict = "not gated" if limit is None else "ok" if count <= limit else "FAIL"
        if verdict == "FAIL":
            failed.append(f"{sev} {count} > {limit}")
        print(f"{sev:<14}{count:>6}{'-' if limit is None else limit:>9}  {verdict}")

    rank = {s: i for i, s in enumerate(ORDER)}
    rows = sorted(map(finding_row, findings), key=lambda r: (rank.get(r[0], len(ORDER)), r[1]))
    if rows:
        print(f"\nTop findings ({min(len(rows), TOP)} of {len(rows)}):")
        for sev, name, pkg in rows[:TOP]:
            print(f"  {sev:<14}{name:<24}{pkg}")
    if failed:
        print("\nFAIL: " + "; ".join(failed))
        return 1
    print(f"\nPASS: scan {status}, every gated severity within its allowance")
    return 0


if __name__ == "__main__":
    sys.exit(main())
