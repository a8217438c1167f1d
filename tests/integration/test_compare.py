"""`tools.py compare`: curves and a table of the runs from their CSV history; a folder without one is refused."""

from __future__ import annotations

import csv
import json

import pytest

from src.errors import ConfigError
from src.tools.compare import compare
from tests.tool_runs import tool_cfg


@pytest.mark.slow
def test_compare_draws_and_tabulates_the_three_runs(trained_runs, tmp_path):
    runs = [str(trained_runs[m]) for m in ("unet", "yolo", "siamese")]
    out = compare(tool_cfg(tmp_path, "compare", [f"runs=[{','.join(runs)}]", "x=time"]))
    assert (tmp_path / "compare.png").stat().st_size > 1000
    text = (tmp_path / "compare.md").read_text()
    assert out["metrics"][:3] == ["val/miou", "val/map50", "val/auroc"]  # each run's monitor
    for model in ("unet", "yolo", "siamese"):
        assert f"| {model} |" in text
    # the best value is the best of the history, and the run's metrics.json has the best checkpoint's value
    unet = out["tables"]["val/miou"][0]
    with (trained_runs["unet"] / "csv" / "metrics.csv").open() as handle:
        history = [float(r["val/miou"]) for r in csv.DictReader(handle) if r.get("val/miou")]
    assert unet["best val/miou"] == pytest.approx(max(history))
    assert unet["last val/miou"] == pytest.approx(history[-1])
    assert json.loads((trained_runs["unet"] / "metrics.json").read_text())["val/miou"] == pytest.approx(
        max(history), abs=1e-6
    )
    assert unet["epochs"] == 2 and unet["model"] == "unet"  # the overrides that differ


def test_a_folder_without_csv_history_is_refused(tmp_path):
    (tmp_path / "run" / ".hydra").mkdir(parents=True)
    with pytest.raises(ConfigError, match="no CSV history"):
        compare(tool_cfg(tmp_path / "out", "compare", [f"runs=[{tmp_path / 'run'}]"]))
