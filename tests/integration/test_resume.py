"""Resume and faults: a killed run continues with ckpt_path=last exactly; NaN losses stop with a clear message."""

from __future__ import annotations

import csv
import json
import math
import os
import signal

import lightning.pytorch as pl
import pytest
import torch

from tests.conftest import make_cfg
from tests.tiny_models import MODELS, run_cli, run_in_process, tiny
from tests.tool_runs import TOOL_MODELS


class KillAfterStep(pl.Callback):
    """`kill -9` of the training process when optimizer step `step` ends (workers and all)."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
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


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_killed_run_resumes_to_the_same_result(tmp_path, model):
    # one process trains the reference and the run to kill, one after the other (a two-job multirun:
    # job 0 never reaches step 999, job 1 is killed at step 7), so each model pays two starts, not three
    runs = tmp_path / "runs"
    kill = "+callbacks.kill._target_=tests.integration.test_resume.KillAfterStep"
    killed = run_cli(
        ["-m", *_resume_args(model, kill, "+callbacks.kill.step=999,7", f"hydra.sweep.dir={runs}")]
    )
    assert killed.returncode == -signal.SIGKILL, (killed.stdout + killed.stderr)[-3000:]
    straight, broken = runs / "0", runs / "1"
    assert (straight / "metrics.json").is_file()  # the reference finished before job 1 started
    assert not (straight / "plots").exists()  # tiny(): model.plot_every_n_epochs=null draws nothing
    last = broken / "checkpoints" / "last.ckpt"
    saved = torch.load(last, weights_only=True)
    assert (saved["epoch"], saved["global_step"]) == (1, 6)  # mid-epoch: 2 of epoch 1's 4 batches done
    assert not (broken / "metrics.json").exists()

    # the killed run's command (less the kill) in its folder, as a single run (in this interpreter: what is
    # tested is the resume, the kill -9 was the real process above)
    resumed = run_in_process(_resume_args(model, f"hydra.run.dir={broken}", "ckpt_path=last"))
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
