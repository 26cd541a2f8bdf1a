"""The value-level change view on the local emulator (moto 5.2.5 on 127.0.0.1): out/dev generated from
params/dev.yaml is applied, then out/ of a copy with a changed desired count, tag and environment
variable is planned (and diffed). moto's change sets carry no property values, so the view is worked
out from the deployed template (GetTemplate) and out/'s, and reads as on AWS."""

from __future__ import annotations

import pytest

from tests.helpers import run_deploy, variant

pytestmark = pytest.mark.deploy

EDITS = {
    r"^  desired_count: 1 ": "  desired_count: 3 ",
    r"^  max_count: 2$": "  max_count: 3",
    r"Owner: platform-team": "Owner: web-team",
    r"^    APP_ENV: dev$": "    APP_ENV: qa",
}


def test_plan_and_diff_show_each_changed_value_before_and_after(moto, capsys, tmp_path):
    original = str(variant(tmp_path / "before", "dev", {}))
    stacks = ["--stack", "network", "--stack", "service"]
    code, out, err = run_deploy(capsys, moto, "apply", "--env", "dev", "--out-dir", original, "--yes", *stacks)
    assert code == 0, out + err
    changed = str(variant(tmp_path / "after", "dev", EDITS))
    code, out, err = run_deploy(capsys, moto, "plan", "--env", "dev", "--out-dir", changed, "--stack", "service")
    assert code == 0, out + err
    lines = out.splitlines()
    assert "  Changed values:" in lines
    assert (
        "    Service (AWS::ECS::Service): replacement False (worked out from the deployed and planned templates)"
        in lines
    )
    assert "      Service DesiredCount: 1 → 3" in lines
    assert "      TaskDefinition ContainerDefinitions[web].Environment[APP_ENV]: dev → qa" in lines
    assert "      ScalableTarget MaxCapacity: 2 → 3" in lines
    assert "    tag Owner: platform-team → web-team" in lines
    # the summary table and the parameter and tag sections are still there
    assert any(line.split()[:2] == ["Modify", "Service"] for line in lines)
    assert "  ~ Owner: platform-team -> web-team" in lines
    code, out, _ = run_deploy(capsys, moto, "diff", "--env", "dev", "--out-dir", changed, "--stack", "service")
    assert code == 0
    assert "      Service DesiredCount: 1 → 3" in out.splitlines()
    assert "    tag Owner: platform-team → web-team" in out.splitlines()
