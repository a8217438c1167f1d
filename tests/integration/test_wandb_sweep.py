"""A sweep's summary reaches W&B (offline here): a run in the sweep's group with the table, plot and files."""

from __future__ import annotations

import json

import pytest
import yaml
from omegaconf import open_dict

from src.outputs.hydra_callbacks import SweepSummary
from tests.conftest import make_cfg
from tests.integration.test_wandb import finished


def fake_sweep(folder):
    """Four finished jobs: depth 1 and 2, each with seeds 1 and 2 (two mean ± std settings)."""
    for i, (depth, seed, miou) in enumerate([(1, 1, 0.5), (1, 2, 0.7), (2, 1, 0.8), (2, 2, 0.9)]):
        job = folder / str(i)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(
            yaml.safe_dump([f"model.net.depth={depth}", f"seed={seed}"])
        )
        (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"model": {"monitor": "val/miou"}}))
        (job / "metrics.json").write_text(json.dumps({"val/miou": miou, "test/miou": miou - 0.1}))
        (job / "status.json").write_text(json.dumps({"status": "ok", "runtime_s": 1.0}))


@pytest.mark.slow
def test_the_sweep_summary_is_a_wandb_run_of_the_sweeps_group(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    sweep = tmp_path / "sweep"
    fake_sweep(sweep)
    cfg = make_cfg(tmp_path / "cfg", ["model=unet", "logger=wandb"])
    with open_dict(cfg):
        cfg.hydra.sweep.dir = str(sweep)
    SweepSummary().on_multirun_end(cfg)
    assert (sweep / "summary.md").is_file()
    [run_file] = sorted((sweep / "wandb").glob("offline-run-*/run-*.wandb"))
    run = finished(run_file)
    assert run["run"]["group"] == "sweep" and run["run"]["name"] == "sweep-summary"
    logged = {k for row in run["history"] for k in row}
    assert {"sweep/summary/_type", "sweep/summary_plot/_type"} <= logged
    tables = sorted(run_file.parent.glob("files/media/table/sweep/summary_*.table.json"))
    assert tables and any(f.startswith("media/images/sweep/summary_plot") for f in run["files"])
    table = json.loads(tables[0].read_text())
    job = table["columns"].index("job")
    assert [row[job] for row in table["data"]].count("mean") == 2  # the mean ± std rows, one per depth
    miou = table["columns"].index("val/miou")
    means = sorted(row[miou] for row in table["data"] if row[job] == "mean")
    assert means == pytest.approx([0.6, 0.85])
    assert run["types"].get("artifact")  # summary.csv|md|png as an artifact
