"""Multirun sweeps (joblib and submitit launchers here; the basic one in test_resume.py, killed and run again,
and test_ddp.py): a failed job does not stop the others; summary.csv/md/png; `python -m src.report`."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
import yaml

from src.outputs.sweep_report import write_summary
from src.report import main as report_main
from tests.tiny_models import CHEAPEST, SWEEP, run_cli, tiny
from tests.wandb_records import summarize


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
@pytest.mark.parametrize("model", [CHEAPEST])  # model-independent: run once, on the cheapest model
def test_sweep_with_a_failing_job_reports_every_job(tmp_path, model):
    """In joblib's (loky's) processes, which replace the default multiprocessing context: DataLoader workers
    still start (data.num_workers=1), and a failing job does not stop the others."""
    key, (a, b), bad = SWEEP[model]
    sweep = tmp_path / "sweep"
    overrides = tiny(model, "trainer.max_epochs=1", "test=false", "logger=wandb", "data.num_workers=1")
    args = ["-m", "launcher=joblib", *overrides, f"{key}={a},{bad},{b}"]
    proc = run_cli([*args, f"hydra.sweep.dir={sweep}"])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    jobs = [
        p.name for p in sweep.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != "wandb"
    ]
    assert sorted(jobs) == ["0", "1", "2"]  # wandb/: the sweep summary's W&B run (below)

    rows = read_csv(sweep / "summary.csv")
    assert [r[key] for r in rows] == [a, bad, b]
    assert [r["status"] for r in rows] == ["ok", "failed", "ok"]
    assert key in rows[1]["error"] and "Error" in rows[1]["error"]
    monitor = yaml.safe_load((sweep / "0" / ".hydra" / "config.yaml").read_text())["model"]["monitor"]
    for i in (0, 2):
        metrics = json.loads((sweep / str(i) / "metrics.json").read_text())
        assert float(rows[i][monitor]) == pytest.approx(metrics[monitor])
        assert float(rows[i]["runtime_s"]) > 0
    assert rows[1][monitor] == ""
    md = (sweep / "summary.md").read_text()
    assert "3 jobs: 2 ok, 1 failed" in md and f"| {key} |" in md and md.count("\n| ") == 4  # header + 3 rows
    assert (sweep / "summary.png").stat().st_size > 1000
    assert "job 1 failed" in out

    # W&B: one run per job that got as far as training (job 1 failed at config validation, before any
    # logger), grouped by the sweep, named after the model and job, its overrides in the config
    runs = {}
    for i in (0, 2):
        [file] = (sweep / str(i) / "wandb").glob("offline-run-*/run-*.wandb")
        runs[i] = summarize(file)
    assert not (sweep / "1" / "wandb").exists()
    assert runs[0]["run"]["id"] != runs[2]["run"]["id"]
    assert {r["run"]["group"] for r in runs.values()} == {sweep.name}
    assert [r["run"]["name"] for r in runs.values()] == [f"{model}-0", f"{model}-2"]
    assert f"{key}={a}" in runs[0]["config"]["overrides"] and runs[2]["config"]["job_num"] == 2
    # and the summary, one more run of the group, at the end of the multirun
    [file] = (sweep / "wandb").glob("offline-run-*/run-*.wandb")
    summary_run = summarize(file)
    assert summary_run["run"]["group"] == sweep.name and summary_run["run"]["name"] == f"{sweep.name}-summary"
    assert any("sweep/summary/_type" in row for row in summary_run["history"])

    # the report command rebuilds the same summary
    before = (sweep / "summary.csv").read_text()
    for name in ("summary.csv", "summary.md", "summary.png"):
        (sweep / name).unlink()
    assert report_main([str(sweep), "--quiet"]) == 0
    assert (sweep / "summary.csv").read_text() == before and (sweep / "summary.png").is_file()


def fake_job(sweep: Path, name: str, overrides: list[str], metrics: dict | None, status: dict | None):
    run = sweep / name
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"model": {"monitor": "val/score"}}))
    if metrics is not None:
        (run / "metrics.json").write_text(json.dumps(metrics))
    if status is not None:
        (run / "status.json").write_text(json.dumps(status))


def test_report_on_a_running_sweep(tmp_path):
    """Finished, failed, still running and not-yet-started jobs; two varied keys; per-class metrics only in CSV."""
    common = ["model=x", "trainer.max_epochs=3"]
    ok = {"status": "ok", "runtime_s": 12.5}
    fake_job(
        tmp_path, "0", [*common, "a=1", "b=x"], {"val/score": 0.5, "test/score": 0.4, "val/iou_cat": 0.1}, ok
    )
    fake_job(
        tmp_path, "1", [*common, "a=2", "b=x"], {"val/score": 0.7, "test/score": 0.6, "val/iou_cat": 0.2}, ok
    )
    fake_job(
        tmp_path, "2", [*common, "a=1", "b=y"], None, {"status": "failed", "error": "ValueError: boom | bad"}
    )
    fake_job(tmp_path, "3", [*common, "a=2", "b=y"], None, {"status": "running"})
    fake_job(tmp_path, "10", [*common, "a=3", "b=y"], None, None)  # started, no status yet
    result = write_summary(tmp_path)
    assert result["varied"] == ["a", "b"] and result["monitor"] == "val/score"
    rows = read_csv(tmp_path / "summary.csv")
    assert [r["job"] for r in rows] == ["0", "1", "2", "3", "10"]  # numeric order
    assert list(rows[0])[:5] == ["job", "a", "b", "val/score", "test/score"]
    assert [r["status"] for r in rows] == ["ok", "ok", "failed", "running", "running"]
    assert rows[2]["error"] == "ValueError: boom | bad" and rows[1]["val/iou_cat"] == "0.2"
    md = (tmp_path / "summary.md").read_text()
    assert (
        "iou_cat" not in md and "boom \\| bad" in md and "model" not in md.split("\n| job")[1].split("\n")[0]
    )
    assert "best: job 1 (a=2 b=x) = 0.7000" in md
    assert (tmp_path / "summary.png").is_file()


def test_report_command_errors(tmp_path, capsys):
    assert report_main([str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert report_main([str(tmp_path)]) == 2
    assert "no run folders" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("launcher", "target"),
    [
        ("local", "BasicLauncher"),
        ("joblib", "JoblibLauncher"),
        ("submitit_local", "LocalLauncher"),
        ("submitit_slurm", "SlurmLauncher"),
    ],
)
def test_launcher_configs_compose(tmp_path, launcher, target):
    from tests.conftest import make_cfg

    cfg = make_cfg(tmp_path, [f"launcher={launcher}"])
    assert cfg.hydra.launcher._target_.endswith(target)
    if launcher == "submitit_slurm":
        for key in (
            "partition",
            "gpus_per_node",
            "tasks_per_node",
            "timeout_min",
            "nodes",
            "cpus_per_task",
            "mem_gb",
        ):
            assert key in cfg.hydra.launcher, key


@pytest.mark.slow
@pytest.mark.parametrize("model", [CHEAPEST])  # model-independent: run once, on the cheapest model
def test_submitit_local_launcher_runs_a_sweep(tmp_path, model):
    """The submitit code path (pickled jobs in submitit's own processes), as on SLURM, on this machine."""
    key, (a, b), _ = SWEEP[model]
    sweep = tmp_path / "sweep"
    args = ["-m", "launcher=submitit_local", *tiny(model, "trainer.max_epochs=1", "test=false")]
    proc = run_cli([*args, f"{key}={a},{b}", f"hydra.sweep.dir={sweep}"])
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    rows = read_csv(sweep / "summary.csv")
    assert [r[key] for r in rows] == [a, b] and [r["status"] for r in rows] == ["ok", "ok"]
    assert all((sweep / str(i) / "metrics.json").is_file() for i in (0, 1))
    assert list((sweep / ".submitit").iterdir())  # submitit's job folders


def test_report_over_seeds(tmp_path):
    """seed=1,2,3 × a=1,2: one row per setting with mean ± sample std and n; a failed seed does not count."""
    ok = {"status": "ok", "runtime_s": 1.0}
    scores = {("1", "1"): 0.5, ("1", "2"): 0.7, ("1", "3"): 0.6, ("2", "1"): 0.8, ("2", "2"): 0.9}
    for i, (a, seed) in enumerate([(a, s) for a in ("1", "2") for s in ("1", "2", "3")]):
        score = scores.get((a, seed))
        status = ok if score is not None else {"status": "failed", "error": "ValueError: x"}
        metrics = {"val/score": score, "val/iou_cat": score} if score is not None else None
        fake_job(tmp_path, str(i), ["model=x", f"a={a}", f"seed={seed}"], metrics, status)
    result = write_summary(tmp_path)
    assert result["varied"] == ["a", "seed"]
    [one, two] = result["settings"]
    assert (one["a"], one["n"], one["seeds"]) == ("1", 3, "1 2 3") and two["n"] == 2
    assert one["val/score"] == pytest.approx(0.6) and one["val/score_std"] == pytest.approx(0.1)
    assert two["val/score"] == pytest.approx(0.85) and two["val/score_std"] == pytest.approx(
        0.0707107, abs=1e-6
    )
    md = (tmp_path / "summary.md").read_text()
    assert "## Mean ± std over seeds" in md
    assert "| 1 | 3 | 0.6000 ± 0.1000 |" in md and "| 2 | 2 | 0.8500 ± 0.0707 |" in md
    table = read_csv(tmp_path / "summary.csv")
    means = [r for r in table if r["job"] == "mean"]
    assert len(table) == 8 and [r["a"] for r in means] == ["1", "2"]
    assert float(means[0]["val/iou_cat_std"]) == pytest.approx(0.1) and means[1]["val/score_n"] == "2"
    assert (tmp_path / "summary.png").stat().st_size > 1000
    # `python -m src.report` rebuilds the same
    before = (tmp_path / "summary.md").read_text()
    (tmp_path / "summary.md").unlink()
    assert report_main([str(tmp_path), "--quiet"]) == 0 and (tmp_path / "summary.md").read_text() == before


def test_report_dead_job_is_interrupted_not_running(tmp_path):
    import socket
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(proc.stdout)  # a process that has ended
    host = socket.gethostname()
    fake_job(tmp_path, "0", ["a=1"], None, {"status": "running", "host": host, "pid": dead_pid})
    fake_job(tmp_path, "1", ["a=2"], None, {"status": "running", "host": host, "pid": os.getpid()})
    fake_job(tmp_path, "2", ["a=3"], None, {"status": "running", "host": "elsewhere", "pid": dead_pid})
    rows = {r["job"]: r for r in read_csv(tmp_path / "summary.csv")} if write_summary(tmp_path) else {}
    assert rows["0"]["status"] == "interrupted" and str(dead_pid) in rows["0"]["error"]
    assert rows["1"]["status"] == "running" and rows["2"]["status"] == "running"  # alive / another machine
    assert "1 interrupted" in (tmp_path / "summary.md").read_text()
