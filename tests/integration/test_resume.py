"""Resume and faults: a killed run continues exactly (ckpt_path=last, or its sweep run again); NaN losses stop
with a clear message."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from omegaconf import OmegaConf

from tests.conftest import make_cfg
from tests.tiny_models import MODELS, run_cli, tiny
from tests.tool_runs import TOOL_MODELS


class KillAfterStep(pl.Callback):
    """`kill -9` of the training process when optimizer step `step` ends (workers and all), once: `marker`
    remembers it, so that the same command run again goes through."""

    def __init__(self, step: int, marker: str):
        self.step, self.marker = step, Path(marker)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step and not self.marker.exists():
            self.marker.write_text("killed")
            os.kill(os.getpid(), signal.SIGKILL)


# the configs' default loader settings (num_workers: 1, persistent workers), 4 training batches an
# epoch, last.ckpt every 3 steps: killed at step 7, the run resumes from step 6, mid-epoch 1
RESUME_DATA = {
    "unet": ["data.reader.num_train=32"],
    "yolo": ["data.reader.num_train=32"],
    "siamese": ["data.reader.num_train_identities=8", "data.reader.train_images_per_identity=4"],
}


def _resume_args(model, *extra):
    base = [a for a in tiny(model) if not a.startswith(("data.num_workers", "data.reader.num_train"))]
    return [
        *base,
        *RESUME_DATA[model],
        "seed=0",
        "trainer.max_epochs=3",
        "test=false",
        "++callbacks.last_checkpoint.every_n_train_steps=3",
        *extra,
    ]


# how the killed run is resumed: for the first model the same multirun command again in the same sweep folder
# (sweep resume: the finished job is skipped, the killed one resumed from its last.ckpt; its unit tests:
# test_sweep_resume.py), for the others its command (less the kill) in its folder as a single run with
# ckpt_path=last. Both real processes: in the test's interpreter (run_in_process) the resumed run differed
# from the reference in the last float bits on CI (state a test worker carries), and exactness is what this tests.
RESUMES = [(model, "sweep" if i == 0 else "single") for i, model in enumerate(MODELS)]


@pytest.mark.slow
@pytest.mark.parametrize(("model", "resume"), RESUMES)
def test_killed_run_resumes_to_the_same_result(tmp_path, model, resume):
    # one process trains the reference and the run to kill, one after the other (a two-job multirun:
    # job 0 never reaches step 999, job 1 is killed at step 7), so each model pays one start
    runs = tmp_path / "runs"
    kill = [
        "+callbacks.kill._target_=tests.integration.test_resume.KillAfterStep",
        f"+callbacks.kill.marker={tmp_path / 'killed'}",
        "+callbacks.kill.step=999,7",
    ]
    command = ["-m", *_resume_args(model, *kill, f"hydra.sweep.dir={runs}")]
    killed = run_cli(command)
    assert killed.returncode == -signal.SIGKILL, (killed.stdout + killed.stderr)[-3000:]
    straight, broken = runs / "0", runs / "1"
    assert (straight / "metrics.json").is_file()  # the reference finished before job 1 started
    assert not (straight / "plots").exists()  # tiny(): model.plot_every_n_epochs=null draws nothing
    last = broken / "checkpoints" / "last.ckpt"
    saved = torch.load(last, weights_only=True)
    assert (saved["epoch"], saved["global_step"]) == (1, 6)  # mid-epoch: 2 of epoch 1's 4 batches done
    assert not (broken / "metrics.json").exists()
    assert [_status(runs, i)["status"] for i in (0, 1)] == ["ok", "running"]
    done_straight_at = (straight / "metrics.json").stat().st_mtime_ns

    if resume == "single":
        resumed = run_cli(_resume_args(model, f"hydra.run.dir={broken}", "ckpt_path=last"))
    else:
        resumed = run_cli(command)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    done_straight = torch.load(straight / "checkpoints" / "last.ckpt", weights_only=True)
    done_resumed = torch.load(last, weights_only=True)
    assert done_resumed["global_step"] == done_straight["global_step"] == 12
    a = json.loads((straight / "metrics.json").read_text())
    b = json.loads((broken / "metrics.json").read_text())
    assert a == b
    for name, tensor in done_straight["state_dict"].items():
        assert torch.equal(done_resumed["state_dict"][name], tensor), name
    # the history is one file: the killed run's rows up to its checkpoint, then the resumed run's rows
    # (a resumed epoch's train/*_epoch means cover only its resumed part: Lightning does not save them;
    # time/* is wall time)
    rows_a, rows_b = _csv_rows(straight), _csv_rows(broken)
    assert [r.keys() for r in rows_b] == [r.keys() for r in rows_a]
    skipped = ("train/", "time/")
    for ra, rb in zip(rows_a, rows_b):
        assert {k: v for k, v in rb.items() if not k.startswith(skipped)} == {
            k: v for k, v in ra.items() if not k.startswith(skipped)
        }
    if resume == "sweep":
        _assert_sweep_resumed(runs, done_straight_at, resumed.stdout + resumed.stderr)


def _status(runs, job: int) -> dict:
    return json.loads((runs / str(job) / "status.json").read_text())


def _assert_sweep_resumed(runs, done_straight_at: int, out: str) -> None:
    """The rerun of the sweep skipped the finished job (not trained again) and resumed the killed one."""
    assert (runs / "0" / "metrics.json").stat().st_mtime_ns == done_straight_at
    status = [_status(runs, i) for i in (0, 1)]
    assert [s["status"] for s in status] == ["ok", "ok"]
    assert [s["resume"] for s in status] == ["skipped", "resumed"]
    assert "Restoring states from the checkpoint" in out or "resumed from" in out
    ckpts = sorted(p.name for p in (runs / "1" / "checkpoints").iterdir())
    assert not [c for c in ckpts if "-v" in c], ckpts  # no duplicate checkpoints
    with open(runs / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    monitor = OmegaConf.load(runs / "0" / ".hydra" / "config.yaml").model.monitor
    assert [r["resume"] for r in rows] == ["skipped", "resumed"] and all(r[monitor] for r in rows)
    assert "this run of the sweep: 1 skipped, 1 resumed" in (runs / "summary.md").read_text()


def _csv_rows(run_dir) -> list[dict]:
    """metrics.csv rows without their empty cells."""
    with open(run_dir / "csv" / "metrics.csv", newline="") as file:
        return [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(file)]


@pytest.mark.slow
@pytest.mark.parametrize("model", TOOL_MODELS)
def test_checkpoints_load_with_weights_only(trained_runs, model):
    """The session's trained tiny run of each model (tests/conftest.py): nothing is trained here."""
    checkpoints = sorted((trained_runs[model] / "checkpoints").glob("*.ckpt"))
    assert len(checkpoints) == 2  # best and last
    for ckpt in checkpoints:
        state = torch.load(ckpt, weights_only=True)  # raises on anything but tensors and plain containers
        assert "state_dict" in state and any("RngStateCheckpoint" in k for k in state["callbacks"])


@pytest.mark.parametrize("model", MODELS[:1])  # model-independent: run once, on the cheapest model
def test_non_finite_loss_stops_with_a_clear_message(tmp_path, model):
    from src.runtime.config.instantiate import build

    cfg = make_cfg(tmp_path, tiny(model))
    module = build(cfg.model, "model")
    losses = {"loss": torch.tensor(math.nan), "ce": torch.tensor(0.5), "dice": torch.tensor(math.inf)}
    with pytest.raises(FloatingPointError) as err:
        module.check_finite(losses)
    message = str(err.value)
    assert "non-finite loss" in message and "step 0" in message
    assert "'dice': inf" in message and "'loss': nan" in message and "'ce'" not in message
    module.check_finite({"loss": torch.tensor(1.0)})  # finite: no error
