"""The no-change fast path of fargate-generate (blueprints/fastpath.py): keyed on every input and on out/."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.helpers import OUT, PARAMS, ROOT, call_main, generate, tree_digest


def _generate(*args: str) -> subprocess.CompletedProcess:
    return generate("--params-dir", *args)


def test_unchanged_run_is_skipped_and_hand_edits_are_rewritten(tmp_path):
    params, out = tmp_path / "params", tmp_path / "out"
    shutil.copytree(PARAMS, params)
    first = _generate(str(params), "--out-dir", str(out))
    assert first.returncode == 0 and "wrote" in first.stdout
    again = _generate(str(params), "--out-dir", str(out))
    assert again.returncode == 0 and again.stdout.strip() == "out/ already current"
    # A hand edit of out/ is noticed: the next run rebuilds and rewrites the file.
    edited = out / "dev" / "network.json"
    edited.write_text(edited.read_text().replace('"2010-09-09"', '"2010-09-10"'))
    fixed = _generate(str(params), "--out-dir", str(out))
    assert "network.json" in fixed.stdout
    assert tree_digest(out) == tree_digest(OUT)
    # So is a removed file, and a changed parameter file.
    (out / "prod" / "stacks.json").unlink()
    assert "stacks.json" in _generate(str(params), "--out-dir", str(out)).stdout
    (params / "dev.yaml").write_text((params / "dev.yaml").read_text() + "\n# a comment\n")
    assert _generate(str(params), "--out-dir", str(out)).stdout.strip() == "out/ already current"  # rebuilt
    assert tree_digest(out) == tree_digest(OUT)


def test_check_and_no_cache_never_take_the_fast_path(tmp_path):
    params, out = tmp_path / "params", tmp_path / "out"
    shutil.copytree(PARAMS, params)
    assert _generate(str(params), "--out-dir", str(out)).returncode == 0
    stale = out / "dev" / "stacks.json"
    stale.write_text("{}\n")
    # --check compares for real (CI), even right after a recorded run.
    assert _generate(str(params), "--out-dir", str(out), "--check").returncode == 1
    stamps = list((ROOT / ".cache" / "generate").glob("*.stamp"))
    assert stamps
    assert "stacks.json" in _generate(str(params), "--out-dir", str(out), "--no-cache").stdout


def test_fast_path_imports_no_heavy_module(tmp_path):
    out = tmp_path / "out"
    assert generate("--out-dir", str(out)).returncode == 0
    probe = (
        "import sys; from blueprints.cli import main; "
        f"code = main(['--out-dir', {str(out)!r}], root=__import__('pathlib').Path({str(ROOT)!r})); "
        "heavy = [m for m in ('troposphere', 'pydantic', 'jinja2', 'yaml') if m in sys.modules]; "
        "print(code, heavy)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip().endswith("0 []"), result.stdout


def test_check_cached_answers_from_the_record_only_while_every_input_is_unchanged(tmp_path):
    params, out = tmp_path / "params", tmp_path / "out"
    shutil.copytree(PARAMS, params)
    # No record yet: a full check, which records what it found current.
    assert _generate(str(params), "--out-dir", str(out)).returncode == 0
    shutil.rmtree(tmp_path / ".cache", ignore_errors=True)
    full = _generate(str(params), "--out-dir", str(out), "--check", "--cached", "--env", "dev")
    assert full.returncode == 0 and "files, 1 environments" in full.stdout
    recorded = _generate(str(params), "--out-dir", str(out), "--check", "--cached", "--env", "dev")
    assert recorded.returncode == 0 and "as recorded" in recorded.stdout
    # The record lives beside params/, whatever the caller's directory.
    assert list((tmp_path / ".cache" / "generate").glob("*.stamp"))
    # A hand edit of out/ and a changed parameter are each found by a full check.
    edited = out / "dev" / "service.json"
    original = edited.read_text()
    edited.write_text(original.replace('"2010-09-09"', '"2010-09-10"'))
    stale = _generate(str(params), "--out-dir", str(out), "--check", "--cached", "--env", "dev")
    assert stale.returncode == 1 and "stale:" in stale.stdout and "service.json" in stale.stdout
    edited.write_text(original)
    bigger = (params / "dev.yaml").read_text().replace("cpu: 256", "cpu: 512").replace("memory: 512", "memory: 1024")
    (params / "dev.yaml").write_text(bigger)
    changed = _generate(str(params), "--out-dir", str(out), "--check", "--cached", "--env", "dev")
    assert changed.returncode == 1 and "stale:" in changed.stdout
    # --no-cache wins over --cached.
    (params / "dev.yaml").write_text((PARAMS / "dev.yaml").read_text())
    assert _generate(str(params), "--out-dir", str(out), "--check", "--cached", "--env", "dev").returncode == 0
    no_cache = _generate(str(params), "--out-dir", str(out), "--check", "--cached", "--no-cache", "--env", "dev")
    assert no_cache.returncode == 0 and "as recorded" not in no_cache.stdout


def test_a_record_of_every_environment_vouches_for_one_of_them(tmp_path):
    params, out = tmp_path / "params", tmp_path / "out"
    shutil.copytree(PARAMS, params)
    from blueprints import cli

    # fargate-generate run in the project folder (tmp_path) records beside its params/.
    done = call_main(
        lambda argv: cli.main(argv, root=tmp_path), ["-q", "--params-dir", str(params), "--out-dir", str(out)]
    )
    assert done.returncode == 0
    checked = _generate(str(params), "--out-dir", str(out), "--check", "--cached", "--env", "prod")
    assert checked.returncode == 0 and "as recorded" in checked.stdout
