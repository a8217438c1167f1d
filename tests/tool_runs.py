"""One trained tiny run per model, shared by the tools' tests (session-scoped: trained once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_cfg, run_train
from tests.tiny_models import TINY

TOOL_MODELS = ["unet", "yolo", "siamese"]
# two epochs (a curve for `compare`), every evaluation plotted, no early stop
EPOCHS = ["trainer.max_epochs=2", "seed=0", "model.plot_every_n_epochs=1"]


def tiny_overrides(model: str, *extra: str) -> list[str]:
    return [f"model={model}", *TINY[model], *extra]


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory) -> dict[str, Path]:
    """model name -> a run folder trained on its tiny synthetic data (checkpoints, metrics.json, csv/)."""
    root = tmp_path_factory.mktemp("tool_runs")
    runs = {}
    for model in TOOL_MODELS:
        run_dir = root / model
        run_train(make_cfg(run_dir, tiny_overrides(model, *EPOCHS)))
        runs[model] = run_dir
    return runs
