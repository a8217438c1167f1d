"""Run folders: one run per folder, a resume only with the folder's model, NaN/inf stop the run, output faults.

Each refusal is one line and exit code 2, before anything is written to the folder.
"""

from __future__ import annotations

import errno
import json
import math
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from omegaconf import OmegaConf

from src.runtime.callbacks.finite_guard import FiniteGuard, NonFiniteError
from src.runtime.runs.run_lock import LOCK_FILE, RunLocked, acquire, release
from tests.conftest import make_cfg
from tests.tiny_models import MODELS, run_cli, tiny


def _other(model: str) -> str:
    return MODELS[(MODELS.index(model) + 1) % len(MODELS)]


def _one_error_line(proc) -> str:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    errors = [line for line in out.splitlines() if "error" in line.lower() or "stopped" in line.lower()]
    assert len(errors) == 1, out[-3000:]
    return errors[0]


def _guard_line(cfg, capsys) -> str:
    """In-process: the run guard (a Hydra callback, conf/hydra/default.yaml) on `cfg`'s hydra.run.dir; its
    one line. The command-line wiring, before Hydra writes anything, is tested once (the CLI tests below)."""
    from src.runtime.runs.run_guard import RunGuard

    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        RunGuard().on_run_start(cfg)
    assert stop.value.code == 2
    out = capsys.readouterr()
    lines = [line for line in (out.out + out.err).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def _save_run_config(run_dir, cfg) -> None:
    """What Hydra leaves in a run folder: .hydra/config.yaml, the config without its `hydra` node."""
    (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
    OmegaConf.save({k: cfg._get_node(k) for k in cfg if k != "hydra"}, run_dir / ".hydra" / "config.yaml")


@pytest.fixture
def live_pid():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_lock_refuses_a_live_holder_and_takes_over_a_dead_one(tmp_path, live_pid, caplog):
    import socket

    (tmp_path / LOCK_FILE).write_text(f"{live_pid} {socket.gethostname()}\n")
    with pytest.raises(RunLocked, match=f"pid {live_pid}"):
        acquire(tmp_path)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    (tmp_path / LOCK_FILE).write_text(f"{dead.stdout.strip()} {socket.gethostname()}\n")
    with caplog.at_level("WARNING", logger="imagelab"):
        path = acquire(tmp_path)
    assert "taking over" in caplog.text
    assert path.read_text().split()[0] == str(os.getpid())
    release(path)
    assert not path.exists()


def test_lock_of_a_reused_pid_is_stale(tmp_path, live_pid, caplog):
    """The lock's pid now belongs to another process (pid reuse after a reboot): not a run of ours."""
    import socket

    from src.runtime.runs.run_lock import _start_time

    host = socket.gethostname()
    started = _start_time(live_pid)
    if started is None:
        pytest.skip("no /proc on this system: the pid's start time cannot be read")
    (tmp_path / LOCK_FILE).write_text(f"{live_pid} {host} {started}\n")  # the run itself: refused
    with pytest.raises(RunLocked, match=f"if no run is writing there, delete {tmp_path / LOCK_FILE}"):
        acquire(tmp_path)
    (tmp_path / LOCK_FILE).write_text(f"{live_pid} {host} {int(started) + 1}\n")  # started at another time
    with caplog.at_level("WARNING", logger="imagelab"):
        path = acquire(tmp_path)
    assert "now another program" in caplog.text
    mine = path.read_text().split()
    assert mine == [str(os.getpid()), host, _start_time(os.getpid())]
    release(path)
    sleeper = subprocess.Popen(["sleep", "60"])  # a lock without a start time, its pid not a Python process
    try:
        (tmp_path / LOCK_FILE).write_text(f"{sleeper.pid} {host}\n")
        release(acquire(tmp_path))
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS[:1])  # model-independent: run once, on the cheapest model
def test_second_run_into_a_held_folder_is_refused(tmp_path, model, live_pid):
    import socket

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / LOCK_FILE).write_text(f"{live_pid} {socket.gethostname()}\n")
    proc = run_cli([*tiny(model), f"hydra.run.dir={run_dir}"])
    line = _one_error_line(proc)
    assert str(run_dir) in line and f"pid {live_pid}" in line
    assert sorted(p.name for p in run_dir.iterdir()) == [LOCK_FILE]  # nothing written


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS[:1])  # model-independent: run once, on the cheapest model
def test_resume_with_another_model_is_refused_before_writing(tmp_path, model, capsys):
    run_dir = tmp_path / "run"
    saved = make_cfg(run_dir, tiny(model))
    _save_run_config(run_dir, saved)
    (run_dir / "checkpoints").mkdir()
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"not read")
    (run_dir / ".hydra" / "overrides.yaml").write_text(OmegaConf.to_yaml(tiny(model)))
    before = {p.name: p.read_text() for p in (run_dir / ".hydra").iterdir()}
    other = _other(model)
    proc = run_cli([*tiny(other), f"hydra.run.dir={run_dir}", "ckpt_path=last"])
    line = _one_error_line(proc)
    assert "model._target_" in line and str(run_dir) in line
    # the same model with another batch size and seed: refused too, naming both (the same guard, in-process)
    again = make_cfg(
        tmp_path / "other",
        [*tiny(model), "data.batch_size=4", "seed=7", f"hydra.run.dir={run_dir}", "ckpt_path=last"],
    )
    line = _guard_line(again, capsys)
    assert "data.batch_size=8 (now 4)" in line and "seed=42 (now 7)" in line
    assert {p.name: p.read_text() for p in (run_dir / ".hydra").iterdir()} == before  # the record kept
    assert sorted(p.name for p in run_dir.iterdir()) == [".hydra", "checkpoints"]


def test_resume_with_another_depth_names_the_key(tmp_path):
    from src.errors import ConfigError
    from src.runtime.checkpoints.saved_config import check_resume_config

    saved = make_cfg(tmp_path, tiny("unet", "model.net.depth=2"))
    _save_run_config(tmp_path, saved)
    check_resume_config(
        tmp_path, make_cfg(tmp_path, tiny("unet", "model.net.depth=2", "trainer.max_epochs=9"))
    )
    with pytest.raises(ConfigError, match=r"model\.net\.depth=2 \(now 3\)"):
        check_resume_config(tmp_path, make_cfg(tmp_path, tiny("unet", "model.net.depth=3")))


@pytest.mark.parametrize("model", MODELS)
def test_finite_guard_checks_eval_values_and_weights(tmp_path, model):
    from src.runtime.config.instantiate import build

    module = build(make_cfg(tmp_path, tiny(model)).model, "model")
    guard = FiniteGuard()
    trainer = SimpleNamespace(
        current_epoch=1, global_step=7, callback_metrics={"val/loss": torch.tensor(0.5)}
    )
    guard.on_validation_end(trainer, module)
    guard.on_save_checkpoint(trainer, module, {"state_dict": module.state_dict()})
    trainer.callback_metrics = {"val/loss": torch.tensor(math.nan), "train/x": torch.tensor(math.inf)}
    with pytest.raises(
        NonFiniteError, match=r"non-finite val values at epoch 1, step 7: \{'val/loss': nan\}"
    ):
        guard.on_validation_end(trainer, module)
    trainer.callback_metrics = {module.monitor.replace("val/", "test/"): torch.tensor(math.inf)}
    with pytest.raises(NonFiniteError, match="non-finite test values"):
        guard.on_test_end(trainer, module)
    state = module.state_dict()
    name = next(n for n, p in module.named_parameters())
    state[name] = torch.full_like(state[name], math.inf)
    with pytest.raises(NonFiniteError, match=f"non-finite weights at epoch 1, step 7 \\({name}\\)"):
        guard.on_save_checkpoint(trainer, module, {"state_dict": state})


@pytest.mark.slow
def test_diverging_unet_stops_with_one_line_and_no_bad_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli(
        [
            *tiny("unet"),
            "model/optim=adamw",
            "model.optim.lr=1e6",
            "trainer.max_epochs=2",
            f"hydra.run.dir={run_dir}",
        ]
    )
    line = _one_error_line(proc)
    assert "Training stopped: non-finite" in line and "step" in line and "model.optim.lr" in line
    assert json.loads((run_dir / "status.json").read_text())["status"] == "failed"
    for ckpt in (run_dir / "checkpoints").glob("*.ckpt"):
        state = torch.load(ckpt, weights_only=True)["state_dict"]
        assert all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point()), ckpt
    assert not (run_dir / "metrics.json").exists()


@pytest.mark.parametrize("model", MODELS[:1])  # model-independent: run once, on the cheapest model
def test_unwritable_output_folder_is_one_line(tmp_path, model, capsys):
    folder = "/proc/imagelab-no-such-folder/run"  # not creatable, even by root
    line = _guard_line(make_cfg(tmp_path, [*tiny(model), f"hydra.run.dir={folder}"]), capsys)
    assert folder in line and "cannot write to the output folder" in line


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS[:1])  # model-independent: run once, on the cheapest model
def test_full_disk_fails_the_run_and_leaves_no_partial_checkpoint(tmp_path, model, monkeypatch):
    from hydra.core.hydra_config import HydraConfig

    from src.pipeline import train
    from src.runtime.runs.entry import run_task

    def full_disk(obj, file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full_disk)
    cfg = make_cfg(
        tmp_path, tiny(model, "trainer.max_epochs=1", "test=false", "+trainer.limit_val_batches=1")
    )
    HydraConfig.instance().set_config(cfg)
    with pytest.raises(SystemExit) as stop:
        run_task(train, cfg)
    assert stop.value.code == 2
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "failed" and "No space left on device" in status["error"], status
    assert "checkpoints" in status["error"]
    assert not [p.name for p in (tmp_path / "checkpoints").glob("*")]  # no .ckpt, no .tmp
