"""The studies in experiments/ run (quick mode) and regenerate their outputs."""

from __future__ import annotations

import pytest

from experiments.transposed_conv.run import run as run_transposed_conv


def test_transposed_conv_study_regenerates_its_readme(tmp_path):
    result = run_transposed_conv(tmp_path)
    assert result == {"output_size": 5, "matches_pytorch": True}
    assert (tmp_path / "transposed_conv.png").stat().st_size > 10_000
    assert "ConvTranspose2d: True" in (tmp_path / "README.md").read_text()


@pytest.mark.slow
def test_quick_studies_regenerate_tables_plots_and_readmes(tmp_path):
    """Quick mode of studies 1–3 (a few batches on tiny data): sweep → table, plot, README results block."""
    from experiments.decoder_depth.run import run as run_decoder_depth
    from experiments.iou_thresholds.run import run as run_iou_thresholds
    from experiments.margins.run import run as run_margins

    groups = run_margins(tmp_path / "margins", quick=True, sweep_dir=tmp_path / "sweeps" / "margins")
    assert [g["seeds"] for g in groups] == [["1", "2"]]
    rows = run_decoder_depth(tmp_path / "depth", quick=True, sweep_dir=tmp_path / "sweeps" / "depth")
    assert [(r["backend"], r["depth"]) for r in rows] == [("own", 2), ("smp", 2)]
    assert [(r["n"], r["seeds"]) for r in rows] == [(2, "1 2")] * 2  # mean ± std over the seeds
    assert all(0 <= r["miou"] <= 1 and r["step_ms"] > 0 and 0 < r["params_used"] <= r["params"] for r in rows)
    iou = run_iou_thresholds(tmp_path / "iou", quick=True, sweep_dir=tmp_path / "sweeps" / "iou")
    assert [r["head"] for r in iou["training"]] == ["yolo", "yolov1"]
    assert sorted(r["nms"] for r in iou["nms"]["yolo"]) == [0.4, 0.6]
    for study, plot in (("margins", "margins"), ("depth", "decoder_depth"), ("iou", "iou_thresholds")):
        out = tmp_path / study
        assert (out / f"{plot}.png").stat().st_size > 10_000
        readme = (out / "README.md").read_text()
        block = readme.split("<!-- results:begin -->")[1].split("<!-- results:end -->")[0]
        assert "| ---" not in block and "|---|" in block and "--quick" in block, study
