"""docs/ci.md: its commands (workflow `run:` steps, shell block, tox commands) run and pass."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from helpers_toy import toy_synth

from posebench.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "ci.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), flags=re.S)


def workflow_commands() -> list[str]:
    wf = next(b for b in blocks("yaml") if "jobs:" in b)
    return [m.strip() for m in re.findall(r"^\s+run: (.+)$", wf, flags=re.M)]


def shell_commands() -> list[str]:
    return [ln.strip() for ln in blocks("sh")[0].splitlines() if ln.strip()]


def tox_commands() -> list[str]:
    ini = blocks("ini")[0]
    body = ini.split("commands =", 1)[1]
    return [ln.strip() for ln in body.splitlines() if ln.strip()]


def run(cmd: str) -> int:
    argv = shlex.split(cmd)
    if argv[:3] == ["python", "-m", "pip"]:
        return 0  # installing is the CI machine's business, not this test's
    assert argv[0] == "posebench", cmd
    return main(argv[1:])


def test_the_documented_commands_are_the_expected_ones():
    wf = workflow_commands()
    assert wf[0].startswith("python -m pip install") and wf[-1].startswith("posebench check")
    assert [c.split()[1] for c in shell_commands()] == ["run", "eval", "run", "eval", "check"]
    assert [c.split()[1] for c in tox_commands()] == ["run", "eval", "check"]


@pytest.fixture
def synth_toy(isolated_home, tmp_path, monkeypatch):
    """A small dataset standing in for `synth` (found by name under $POSEBENCH_HOME)."""
    toy_synth(isolated_home / "datasets" / "synth")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return tmp_path


def test_local_and_ci_commands_run_and_pass(synth_toy, monkeypatch):
    for cmd in shell_commands():
        assert run(cmd) == 0, cmd
    assert Path("gate.md").read_text().startswith("### posebench check: :white_check_mark:")
    for cmd in tox_commands():
        assert run(cmd) == 0, cmd
    # the workflow gates against a committed leaderboard record: use the baseline made above
    board = Path("leaderboards/synth")
    board.mkdir(parents=True)
    shutil.copy("baseline.json", board / "mean-pose.json")
    for npz in Path(".").glob("baseline.samples.npz"):
        shutil.copy(npz, board / npz.name)
    summary = synth_toy / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    for cmd in workflow_commands():
        assert run(cmd) == 0, cmd
    text = summary.read_text()
    assert text.startswith("### posebench check: :white_check_mark: no regression")
    assert "| mpjpe |" in text
