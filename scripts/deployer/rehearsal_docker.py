"""The ``docker`` stand-in of the release rehearsal: the emulator has no registry and runs no
containers, so the build's docker commands are interpreted here (bin/docker of the rehearsal's
work folder runs ``python -m deployer.rehearsal_docker``). It talks to the emulator only through
the real AWS CLI on PATH, as the build's own commands do.

- ``docker login ... --password-stdin REGISTRY``: reads the password (from ``aws ecr
  get-login-password``) and succeeds.
- ``docker build --file F --tag T CTX``: checks that F exists (the rehearsal's stand-in source has
  the Dockerfile the buildspec names); builds nothing.
- ``docker push URI:TAG``: puts a synthetic image (an image manifest in Docker's V2 schema 2
  format, unique to the reference) into the emulator's ECR with ``aws ecr put-image``, then does
  what ECR does on push:

  Gap 14: moto 5.2.5 accepts a repository's ``ImageScanningConfiguration.ScanOnPush`` and ignores
  it; ECR starts a basic scan of every image pushed to such a repository (Amazon ECR User Guide,
  "Scan images for OS vulnerabilities"). When the repository has scan on push, start the scan with
  ``aws ecr start-image-scan``.

  Gap 15 (see deployer.rehearsal_emulator): with ``REHEARSAL_SCAN_FINDINGS=clean`` the scan's
  result is posted as clean; with ``high`` moto's static HIGH finding is left for the scan gate.

Each push is recorded as one JSON line in ``$REHEARSAL_PUSHES``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA_TYPE = "application/vnd.docker.container.image.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def _aws(*args: str) -> dict[str, Any]:
    proc = subprocess.run(["aws", *args, "--output", "json"], capture_output=True, text=True, check=False)
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        raise SystemExit(proc.returncode)
    result: dict[str, Any] = json.loads(proc.stdout or "{}")
    return result


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_manifest(reference: str) -> str:
    """A Docker image manifest V2, schema 2, whose config and layer digests derive from the reference."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "rehearsal": reference}, sort_keys=True).encode()
    layer = f"rehearsal layer of {reference}".encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "size": len(config), "digest": _sha256(config)},
        "layers": [{"mediaType": LAYER_MEDIA_TYPE, "size": len(layer), "digest": _sha256(layer)}],
    }
    return json.dumps(manifest, sort_keys=True)


def _option(args: list[str], *names: str) -> str | None:
    for index, arg in enumerate(args):
        if arg in names and index + 1 < len(args):
            return args[index + 1]
        for name in names:
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def login(args: list[str]) -> int:
    if "--password-stdin" in args:
        sys.stdin.read()
    print("Login Succeeded")
    return 0


def build(args: list[str]) -> int:
    dockerfile = _option(args, "--file", "-f") or "Dockerfile"
    if not Path(dockerfile).is_file():
        print(f"docker build (rehearsal): {dockerfile}: no such file", file=sys.stderr)
        return 1
    print(f"docker build (rehearsal): {dockerfile} found; nothing is built (the emulator runs no containers)")
    return 0


def push(args: list[str]) -> int:
    references = [a for a in args if not a.startswith("-")]
    if len(references) != 1:
        print("docker push (rehearsal): give exactly one NAME:TAG", file=sys.stderr)
        return 2
    reference = references[0]
    registry, _, path = reference.partition("/")
    repository, _, tag = path.rpartition(":")
    if not repository or not tag or "@" in path:
        print(f"docker push (rehearsal): {reference}: expected REGISTRY/REPOSITORY:TAG", file=sys.stderr)
        return 2
    pushed = _aws(
        "ecr", "put-image", "--repository-name", repository, "--image-tag", tag,
        "--image-manifest", image_manifest(reference), "--image-manifest-media-type", MEDIA_TYPE,
    )  # fmt: skip
    digest = pushed["image"]["imageId"]["imageDigest"]
    described = _aws("ecr", "describe-repositories", "--repository-names", repository)["repositories"][0]
    scan_on_push = bool(described.get("imageScanningConfiguration", {}).get("scanOnPush"))
    findings = "none (scan on push is off)"
    if scan_on_push:
        _aws("ecr", "start-image-scan", "--repository-name", repository, "--image-id", f"imageDigest={digest}")
        findings = os.environ.get("REHEARSAL_SCAN_FINDINGS", "clean")
        if findings == "clean":
            from deployer.rehearsal_emulator import post_clean_scan

            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
            post_clean_scan(os.environ["AWS_ENDPOINT_URL"], region, repository, digest)
    record = {
        "reference": reference,
        "repository": repository,
        "tag": tag,
        "digest": digest,
        "uri": f"{registry}/{repository}@{digest}",
        "scan_on_push": scan_on_push,
        "findings": findings,
    }
    log = os.environ.get("REHEARSAL_PUSHES")
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
    print(f"{tag}: digest: {digest} (pushed to the emulator's ECR)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    commands = {"login": login, "build": build, "push": push}
    if not args or args[0] not in commands:
        print(f"docker (rehearsal stand-in): only {', '.join(commands)} are emulated, not {args[:1]}", file=sys.stderr)
        return 2
    return commands[args[0]](args[1:])


if __name__ == "__main__":
    sys.exit(main())
