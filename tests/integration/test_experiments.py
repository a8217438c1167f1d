"""The studies in experiments/ run (quick mode) and regenerate their outputs (one test per study, so that
xdist's workers share them out)."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest

from experiments.transposed_conv.run import run as run_transposed_conv
from tests.tiny_models import run_in_process


@pytest.fixture
def launch_in_process(monkeypatch):
    """experiments.common.launch starts each `python <script> ...` in this interpreter (run_in_process):
    the study's sweeps, tables, plot and README are what is tested; the margins study starts real ones."""
    import experiments.common as common

    def run(cmd, cwd, stdout, stderr, env):
        # torch's threads as launch gives its processes (OMP_NUM_THREADS)
        proc = run_in_process(cmd[2:], script=cmd[1], threads=int(env["OMP_NUM_THREADS"]))
        stdout.write(proc.stdout + proc.stderr)
        return proc

    monkeypatch.setattr(common, "subprocess", SimpleNamespace(run=run, STDOUT=subprocess.STDOUT))


def test_transposed_conv_study_regenerates_its_readme(tmp_path):
    result = run_transposed_conv(tmp_path)
    assert result == {"output_size": 5, "matches_pytorch": True}
    assert (tmp_path / "transposed_conv.png").stat().st_size > 10_000
    assert "ConvTranspose2d: True" in (tmp_path / "README.md").read_text()


def assert_regenerated(out, plot: str) -> None:
    """The study's plot and the README's results block: a table, written by the quick mode."""
    assert (out / f"{plot}.png").stat().st_size > 10_000
    readme = (out / "README.md").read_text()
    block = readme.split("<!-- results:begin -->")[1].split("<!-- results:end -->")[0]
    assert "| ---" not in block and "|---|" in block and "--quick" in block, plot


@pytest.mark.slow
def test_margins_quick_study_regenerates_table_plot_and_readme(tmp_path):
    """Quick mode (a few batches on tiny data): sweep → table, plot, README results block."""
    from experiments.margins.run import run as run_margins

    groups = run_margins(tmp_path / "margins", quick=True, sweep_dir=tmp_path / "sweeps" / "margins")
    assert [g["seeds"] for g in groups] == [["1", "2"]]
    assert_regenerated(tmp_path / "margins", "margins")


@pytest.mark.slow
def test_decoder_depth_quick_study_regenerates_table_plot_and_readme(tmp_path, launch_in_process):
    from experiments.decoder_depth.run import run as run_decoder_depth

    rows = run_decoder_depth(tmp_path / "depth", quick=True, sweep_dir=tmp_path / "sweeps" / "depth")
    assert [(r["data"], r["depth"], r["n"], r["seeds"]) for r in rows] == [
        ("synthetic", 2, 2, "1 2"),
        ("synthetic", 3, 2, "1 2"),
    ]
    best, other = sorted(rows, key=lambda r: not r["best"])
    # the paired difference is the mean of the per-seed differences, inside its own interval
    assert other["diff"] == pytest.approx(sum(o - b for o, b in zip(other["values"], best["values"])) / 2)
    assert other["ci_low"] < other["diff"] < other["ci_high"] and best["diff"] == 0
    assert all(r["epochs"] == [2, 2] and r["step_ms"] > 0 and r["params"] > 0 for r in rows)
    assert_regenerated(tmp_path / "depth", "decoder_depth")


@pytest.mark.slow
def test_iou_thresholds_quick_study_regenerates_table_plot_and_readme(tmp_path, launch_in_process):
    from experiments.iou_thresholds.run import run as run_iou_thresholds

    iou = run_iou_thresholds(tmp_path / "iou", quick=True, sweep_dir=tmp_path / "sweeps" / "iou")
    assert [r["head"] for r in iou["training"]] == ["yolo", "yolov1"]
    assert sorted(r["nms"] for r in iou["nms"]["yolo"]) == [0.4, 0.6]
    assert_regenerated(tmp_path / "iou", "iou_thresholds")


@pytest.mark.slow
def test_pretraining_quick_study_pairs_each_seed_with_its_own_pretraining_run(
    tmp_path, monkeypatch, launch_in_process
):
    """On a tiny stand-in of the real set: pretraining per seed, both starts per label share, the pairing."""
    from experiments.pretraining.run import run as run_pretraining
    from tests.real_data_fakes import prepare_fakes

    data = prepare_fakes(tmp_path, monkeypatch)
    sweeps = tmp_path / "sweeps" / "pretraining"
    rows = run_pretraining(tmp_path / "pretraining", quick=True, sweep_dir=sweeps, data=data)
    [row] = rows
    assert (row["task"], row["labels"], len(row["scratch"]), len(row["pretrained"])) == (
        "verification",
        "1/8",
        2,
        2,
    )
    # the paired difference is the mean of the per-seed differences
    assert row["diff"] == pytest.approx(sum(p - s for p, s in zip(row["pretrained"], row["scratch"])) / 2)
    # 1/8 of the labels: epochs 8x shorter, validated every SMALL_EVERY of them (2 validations in 8 epochs)
    assert all(len(curve) == 2 for side in row["curves"].values() for curve in side)
    # seed N fine-tunes from pretraining seed N: the override names its own seed's run
    log = (sweeps / "verification" / "1-8" / "launch.log").read_text()
    for seed in (1, 2):
        assert f"pretrain/seed{seed}/checkpoints/last.ckpt" in log
    assert_regenerated(tmp_path / "pretraining", "pretraining")
