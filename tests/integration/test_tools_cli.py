"""`python tools.py <tool>`: the entry point, once as a user types it (a wrong input: one line, exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import tools
from tests.tiny_models import ROOT


@pytest.mark.slow
def test_a_folder_without_history_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "run" / ".hydra").mkdir(parents=True)
    proc = subprocess.run(
        [
            sys.executable,
            "tools.py",
            "compare",
            f"runs=[{tmp_path / 'run'}]",
            f"hydra.run.dir={tmp_path / 'out'}",
        ],
        cwd=ROOT,
        env={**os.environ, "HYDRA_FULL_ERROR": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "Traceback" not in out, out[-3000:]
    lines = [line for line in out.splitlines() if "Config error:" in line]
    assert len(lines) == 1 and "has no CSV history" in lines[0], out[-3000:]


def test_an_unknown_tool_is_one_line_and_exit_2(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["tools.py", "brows", "model=unet"])
    with pytest.raises(SystemExit) as info:
        tools.main()
    assert info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "Config error: tool: 'brows' is not a tool; python tools.py <browse|compare|mistakes|profile> [overrides]"
    )
