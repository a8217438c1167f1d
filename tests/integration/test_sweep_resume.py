"""A killed grid sweep resumes: the same command in the same sweep folder skips, resumes and reruns jobs (the
plan per job here; a real sweep killed with kill -9 and run again: test_resume.py, its first model)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from src.runtime.runs.sweep_resume import plan


def job_folder(tmp_path: Path, status: dict | None, overrides: list[str], last_ckpt: bool = False) -> Path:
    run = tmp_path / "0"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "epoch_000.ckpt").write_text("x")
    if last_ckpt:
        (run / "checkpoints" / "last.ckpt").write_text("x")
    if status is not None:
        (run / "status.json").write_text(json.dumps({**status, "overrides": overrides}))
    (run / "metrics.json").write_text(
        json.dumps({"val/miou": 0.5}) if status and status["status"] == "ok" else ""
    )
    return run


CFG = {"train": True, "ckpt_path": None, "optimized_metric": "val/miou", "sweep_resume": True}


@pytest.mark.parametrize(
    ("status", "same", "last", "action"),
    [
        ("ok", True, True, "skipped"),
        ("ok", False, True, "rerun"),  # the folder of a job with other overrides
        ("running", True, True, "resumed"),  # the sweep was killed during this job
        ("interrupted", True, True, "resumed"),
        ("interrupted", True, False, "rerun"),  # killed before its first checkpoint
        ("failed", True, True, "rerun"),
    ],
)
def test_plan(tmp_path, status, same, last, action):
    overrides = ["model.net.depth=2"]
    run = job_folder(tmp_path, {"status": status}, overrides if same else ["model.net.depth=3"], last)
    cfg = OmegaConf.create(CFG)
    decision = plan(cfg, run, overrides, multirun=True)
    assert decision.action == action
    assert (decision.value == 0.5) if action == "skipped" else decision.value is None
    assert cfg.ckpt_path == ("last" if action == "resumed" else None)
    # a rerun starts from scratch: no old checkpoints for Lightning to version (epoch_000-v1.ckpt)
    assert (run / "checkpoints").is_dir() == (action != "rerun")


def test_plan_refuses_a_job_still_running(tmp_path):
    import socket

    from src.errors import ConfigError

    run = job_folder(
        tmp_path, {"status": "running", "host": socket.gethostname(), "pid": os.getppid()}, ["a=1"], True
    )
    with pytest.raises(ConfigError, match="still running"):
        plan(OmegaConf.create(CFG), run, ["a=1"], multirun=True)
    assert (run / "checkpoints" / "last.ckpt").is_file()  # untouched


def test_plan_plain_hydra(tmp_path):
    run = job_folder(tmp_path, {"status": "ok"}, ["a=1"], True)
    assert plan(OmegaConf.create({**CFG, "sweep_resume": False}), run, ["a=1"], multirun=True) is None
    assert plan(OmegaConf.create(CFG), run, ["a=1"], multirun=False) is None  # a single run: unchanged
    assert plan(OmegaConf.create(CFG), tmp_path / "new", ["a=1"], multirun=True) is None  # a new job
