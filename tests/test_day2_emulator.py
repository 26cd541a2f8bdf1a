"""Day-2 scenarios on the local emulator (moto 5.2.5 on 127.0.0.1): the committed out/dev is deployed,
then out/ of a changed params file is applied. moto reports no Replacement, so what is refused here is
found from the deployed template (GetTemplate) and the one in out/."""

from __future__ import annotations

import pytest

from tests.helpers import ROOT, run_deploy, variant
from tests.test_day2 import CIDR, PORT

pytestmark = pytest.mark.deploy


def _deploy_dev(capsys, moto, *stacks: str) -> None:
    selected = [arg for name in stacks for arg in ("--stack", name)]
    code, out, err = run_deploy(
        capsys, moto, "apply", "--env", "dev", "--out-dir", str(ROOT / "out"), "--yes", *selected
    )
    assert code == 0, out + err


def test_vpc_cidr_change_is_refused_without_allow_replacement(moto, capsys, tmp_path):
    _deploy_dev(capsys, moto, "network")
    out_dir = str(variant(tmp_path, "dev", CIDR))
    code, out, _ = run_deploy(
        capsys, moto, "apply", "--env", "dev", "--out-dir", out_dir, "--yes", "--stack", "network"
    )
    assert code == 1
    assert "!! replaces stateful AWS::EC2::VPC Vpc (CidrBlock changes; worked out from the templates" in out
    assert "Refused: webapp-dev-network would replace or remove stateful resources" in out
    assert "--allow-replacement" in out


def test_container_port_change_is_refused_before_anything_runs(moto, capsys, tmp_path):
    _deploy_dev(capsys, moto, "network", "service")
    out_dir = str(variant(tmp_path, "dev", PORT))
    code, out, _ = run_deploy(
        capsys, moto, "apply", "--env", "dev", "--out-dir", out_dir, "--yes", "--stack", "service"
    )
    assert code == 1
    assert "Refused: webapp-dev-service would replace BlueTargetGroup" in out
    assert "custom Name webapp-dev-blue" in out
    assert "would change LoadBalancers of ECS service Service, whose CODE_DEPLOY deployment controller" in out
