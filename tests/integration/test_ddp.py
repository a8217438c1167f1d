"""DDP inside a multirun: every job one run folder, one metrics file, one summary row.

One sweep over both start methods (one `train.py` start instead of two): job 0 uses `popen` (ranks
relaunch the script: src/runtime/runs/ddp.py points them at this job), job 1 `spawn` (fit and the
best-checkpoint validation each spawn their ranks). Job 1 running after a `popen` job also proves that
job's DDP state is cleaned up: a leaked `LOCAL_RANK`/`WORLD_SIZE` would make job 1 start no ranks.
"""

from __future__ import annotations

import csv
import json

import pytest

from tests.tiny_models import CHEAPEST, run_cli, tiny

START_METHODS = ["popen", "spawn"]  # the sweep's job order


@pytest.mark.slow
@pytest.mark.parametrize("model", [CHEAPEST])  # DDP in a multirun does not depend on the model
def test_ddp_cpu_inside_multirun(tmp_path, model):
    key = "trainer.strategy.start_method"
    sweep = tmp_path / "sweep"
    args = ["-m", *tiny(model, "trainer=ddp_cpu", "trainer.max_epochs=1", "test=false")]
    # PROJECT_ROOT: a relaunched rank that started a run of its own would write below tmp_path/logs
    proc = run_cli(
        [*args, f"{key}={','.join(START_METHODS)}", f"hydra.sweep.dir={sweep}"], project_root=tmp_path
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    # a world of two in each job: popen's rank 1 joins once, spawn's rank 1 once per stage (fit, validate)
    assert out.count("GLOBAL_RANK: 1, MEMBER: 2/2") >= 3, out[-4000:]
    assert "DDP (popen) in a multirun: ranks relaunch" in out
    # nothing but the two job folders: no stray run folders from relaunched ranks
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    assert not (tmp_path / "logs").exists()
    with open(sweep / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r[key] for r in rows] == START_METHODS and [r["status"] for r in rows] == ["ok", "ok"]
    for i, row in enumerate(rows):
        run = sweep / str(i)
        assert len(list(run.rglob("metrics.json"))) == 1
        metrics = json.loads((run / "metrics.json").read_text())
        monitor = next(k for k in row if k.startswith("val/"))
        assert float(row[monitor]) == pytest.approx(metrics[monitor])
        assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["epoch_000.ckpt", "last.ckpt"]
        assert len(list(run.rglob("status.json"))) == 1 and (run / ".hydra").is_dir()
