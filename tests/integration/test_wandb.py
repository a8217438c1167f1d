"""logger=wandb offline: metrics, nested config and media are in the run file; a resumed run keeps its W&B run."""

from __future__ import annotations

import time

import pytest

from src.loggers.wandb_logger import RUN_ID_FILE, resolve_mode
from src.pipeline import train
from src.runtime.runs.entry import run_task
from tests.conftest import make_cfg
from tests.tiny_models import MODELS, tiny
from tests.wandb_records import read_payloads, summarize


def run_train(cfg):
    """As train.py does: run_task closes the W&B run at the end (flushing the offline file)."""
    from hydra.core.hydra_config import HydraConfig

    HydraConfig.instance().set_config(cfg)
    return run_task(train, cfg)


def run_files(run_dir):
    return sorted((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))


def finished(path, timeout: float = 20.0) -> dict:
    """The run file's summary once its `exit` record is written (wandb-core writes asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        run = summarize(path)
        if "exit" in run["types"] or time.monotonic() > deadline:
            return run
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS[:1])  # model-independent: run once, on the cheapest model
def test_offline_run_has_metrics_config_media_and_resumes(tmp_path, model, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    common = ["logger=wandb", "seed=0", "test=false", "model.plot_every_n_epochs=1"]
    cfg = make_cfg(tmp_path, tiny(model, *common, "trainer.max_epochs=1"))
    run_train(cfg)
    run_id = (tmp_path / RUN_ID_FILE).read_text().strip()
    [first] = run_files(tmp_path)
    assert first.name == f"run-{run_id}.wandb"
    run = finished(first)
    assert run["run"]["id"] == run_id and run["run"]["project"] == "imagelab"
    monitor = cfg.model.monitor
    logged = {k for row in run["history"] for k in row}
    assert monitor in logged and "train/loss_epoch" in logged, run["types"]
    values = [row[monitor] for row in run["history"] if monitor in row]
    assert all(0.0 <= v <= 1.0 for v in values)
    # the whole composed config, as nested keys
    assert run["config"]["model"]["monitor"] == monitor
    assert run["config"]["trainer"]["max_epochs"] == 1
    assert "data" in run["config"] and "seed" in run["config"]
    # media: the validation pictures of plots/ as W&B images
    media = [f for f in run["files"] if f.startswith("media/images/plots/val_")]
    assert media, run["files"]
    assert any(f.startswith("media/images/plots/val_confusion") for f in media), media  # the confusion matrix
    assert any(k.startswith("plots/val_") for k in logged)

    # resume in the same run folder: the same W&B run id goes on
    run_train(make_cfg(tmp_path, tiny(model, *common, "trainer.max_epochs=2", "ckpt_path=last")))
    files = run_files(tmp_path)
    assert len(files) == 2 and all(f.name == f"run-{run_id}.wandb" for f in files)
    resumed = finished(files[-1])
    assert resumed["run"]["id"] == run_id
    assert any(row.get("epoch") == 1 for row in resumed["history"])


def test_reader_rejects_other_files(tmp_path):
    bad = tmp_path / "x.wandb"
    bad.write_bytes(b"not a wandb file")
    with pytest.raises(ValueError, match="not a W&B run file"):
        list(read_payloads(bad))


def test_mode_auto_is_offline_without_an_api_key(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    assert resolve_mode("auto") == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert resolve_mode("auto") == "online"
    assert resolve_mode("disabled") == "disabled"
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert resolve_mode("auto") == "offline"
    from src.errors import ConfigError

    with pytest.raises(ConfigError, match="mode"):
        resolve_mode("sometimes")
