"""DDP inside a multirun: every job one run folder, one metrics file, one summary row (spawn and popen)."""

from __future__ import annotations

import csv
import json

import pytest

from tests.tiny_models import MODELS, SWEEP, run_cli, tiny


@pytest.mark.slow
@pytest.mark.parametrize("start_method", ["spawn", "popen"])
@pytest.mark.parametrize("model", MODELS[:1])  # DDP in a multirun does not depend on the model
def test_ddp_cpu_inside_multirun(tmp_path, model, start_method):
    key, (a, b), _ = SWEEP[model]
    sweep = tmp_path / "sweep"
    args = [
        "-m",
        *tiny(
            model, "trainer=ddp_cpu", f"trainer.strategy.start_method={start_method}", "trainer.max_epochs=1"
        ),
    ]
    # PROJECT_ROOT: a relaunched rank that started a run of its own would write below tmp_path/logs
    proc = run_cli([*args, "test=false", f"{key}={a},{b}", f"hydra.sweep.dir={sweep}"], project_root=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert out.count("GLOBAL_RANK: 0, MEMBER: 1/2") >= 2  # each job: a world of two processes
    # nothing but the two job folders: no stray run folders from relaunched ranks
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    assert not (tmp_path / "logs").exists()
    with open(sweep / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r[key] for r in rows] == [a, b] and [r["status"] for r in rows] == ["ok", "ok"]
    for i, row in enumerate(rows):
        run = sweep / str(i)
        assert len(list(run.rglob("metrics.json"))) == 1
        metrics = json.loads((run / "metrics.json").read_text())
        monitor = next(k for k in row if k.startswith("val/"))
        assert float(row[monitor]) == pytest.approx(metrics[monitor])
        assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["epoch_000.ckpt", "last.ckpt"]
        assert len(list(run.rglob("status.json"))) == 1 and (run / ".hydra").is_dir()
