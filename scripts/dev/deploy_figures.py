"""The bench's deploy figures, on the in-process moto emulator (tests/moto_server_patches.py).

- ``fargate-deploy apply`` of four environments at once against one environment (both fresh);
- ``apply`` of an environment that is up to date against a ``status`` call of it;
- with ``--aws-cli``: the AWS CLI's ``aws cloudformation deploy`` of the same stacks (slow: many
  CLI processes per run; off by default).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from blueprints import manifest
from deployer import emulator
from tests.moto_server_patches import in_process_server, outputs_after_change_set

from .figures import BIN, target
from .measure import ROOT, Cmd, interleaved, ratio, run_once

ENVS = ("dev", "preview", "staging", "prod")
# Four copies of params/dev.yaml for "apply 4 environments at once": prod's HTTPS listener needs an ACM
# certificate the emulator does not have, so the committed environments cannot all be created there.
COPIES = ("bencha", "benchb", "benchc", "benchd")


def _reset(endpoint: str) -> None:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()


def multi_env_apply() -> bool:
    """Whether ``fargate-deploy apply`` takes several ``--env`` (added in parallel to this bench)."""
    from deployer import cli

    try:
        args = cli.parser().parse_args(["apply", "--env", ENVS[0], "--env", ENVS[1]])
    except SystemExit:
        return False
    return isinstance(args.env, list | tuple) and list(args.env) == list(ENVS[:2])


def deploy(runs: int, tmp: Path, aws_cli: bool) -> dict:
    figures: dict = {}
    ratios: dict = {}
    targets: list[dict] = []
    with outputs_after_change_set(), in_process_server() as endpoint:
        deploy_cmd = [str(BIN / "fargate-deploy"), "--yes", "--local-endpoint", endpoint]

        def fresh() -> None:
            _reset(endpoint)

        if multi_env_apply():
            copies = [*deploy_cmd, "--out-dir", str(_dev_copies(tmp)), "apply"]
            group = interleaved(
                {
                    "apply_one_env": Cmd([*copies, "--env", COPIES[0]], before=fresh),
                    "apply_four_envs": Cmd([*copies, *(a for env in COPIES for a in ("--env", env))], before=fresh),
                },
                runs,
            )
            figures.update(group)
            ratios["apply_four_envs/apply_one_env"] = ratio(group, "apply_four_envs", "apply_one_env")
            targets.append(
                target("apply 4 environments at once / 1", ratios["apply_four_envs/apply_one_env"]["median"], 1.5, "×")
            )
        else:
            targets.append({"name": "apply 4 environments at once / 1", "met": None, "note": "not available"})
        fresh()
        run_once(Cmd([*deploy_cmd, "apply", "--env", "dev"]))
        group = interleaved(
            {
                "apply_up_to_date": Cmd([*deploy_cmd, "apply", "--env", "dev"]),
                "status": Cmd([*deploy_cmd, "status", "--env", "dev"], ok_codes=None),
            },
            runs,
        )
        figures.update(group)
        ratios["apply_up_to_date/status"] = ratio(group, "apply_up_to_date", "status")
        targets.append(target("apply, up to date / status", ratios["apply_up_to_date/status"]["median"], 0.5, "×"))
        if aws_cli:
            group = interleaved(
                {
                    "apply_fresh": Cmd([*deploy_cmd, "apply", "--env", "dev"], before=fresh),
                    "aws_cli_fresh": Cmd(
                        ["bash", "-c", _cli_deploy_script(tmp)], env=_cli_env(endpoint, tmp), before=fresh
                    ),
                },
                runs,
            )
            figures.update(group)
            ratios["apply_fresh/aws_cli_fresh"] = ratio(group, "apply_fresh", "aws_cli_fresh")
    return {"figures": figures, "ratios": ratios, "targets": targets}


def _dev_copies(tmp: Path) -> Path:
    """params/ with COPIES of the dev sample and the out/ generated from it (as the deployer expects)."""
    folder = tmp / "deploy-copies"
    (folder / "params").mkdir(parents=True)
    text = (ROOT / "params" / "dev.yaml").read_text()
    for name in COPIES:
        (folder / "params" / f"{name}.yaml").write_text(text.replace("environment: dev", f"environment: {name}"))
    subprocess.run(
        [sys.executable, str(ROOT / "generate.py"), "-q", "--no-cache", "--params-dir", "params", "--out-dir", "out"],
        cwd=folder,
        check=True,
    )
    return folder / "out"


def _cli_env(endpoint: str, tmp: Path) -> dict[str, str]:
    region = manifest.read(tmp / "adapted").region
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=region,
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    return env


def _cli_deploy_script(tmp: Path, env: str = "dev") -> str:
    """`aws cloudformation deploy` of every stack of the manifest in order, passing outputs on
    (describe-stacks per upstream value), as a team with only the AWS CLI would script it. The
    templates are those fargate-deploy sends the emulator (scripts/deployer/emulator.py)."""
    folder = tmp / "adapted"
    if not folder.exists():
        shutil.copytree(ROOT / "out" / env, folder)
        region = manifest.read(folder).region
        for path in folder.glob("*.json"):
            if path.name != manifest.FILE_NAME and not path.name.endswith(".parameters.json"):
                path.write_text(emulator.template_for_emulator(json.loads(path.read_text()), region))
    document = manifest.read(folder)
    names = {s.name: s.stack_name for s in document.stacks}
    lines = ["set -euo pipefail"]
    for stack in document.stacks:
        overrides = [_dquote(f"{k}={v}") for k, v in stack.parameters.items()]
        for key, wired in stack.parameters_from_outputs.items():
            query = f"Stacks[0].Outputs[?OutputKey=='{wired.output}'].OutputValue"
            lines.append(
                f"{key}=$(aws cloudformation describe-stacks --stack-name {names[wired.stack]} "
                f'--query "{query}" --output text)'
            )
            overrides.append(f'"{key}=${key}"')
        tags = " ".join(f"{k}={v}" for k, v in stack.tags.items())
        params = f" --parameter-overrides {' '.join(overrides)}" if overrides else ""
        lines.append(
            f"aws cloudformation deploy --stack-name {stack.stack_name} "
            f"--template-file {folder / stack.template}{params} "
            f"--capabilities {' '.join(stack.capabilities)} --tags {tags} --no-fail-on-empty-changeset"
        )
    return "\n".join(lines)


def _dquote(text: str) -> str:
    return '"' + "".join("\\" + c if c in '\\"$`' else c for c in text) + '"'
