"""The studies in experiments/ run (quick mode) and regenerate their outputs."""

from __future__ import annotations

from experiments.transposed_conv.run import run as run_transposed_conv


def test_transposed_conv_study_regenerates_its_readme(tmp_path):
    result = run_transposed_conv(tmp_path)
    assert result == {"output_size": 5, "matches_pytorch": True}
    assert (tmp_path / "transposed_conv.png").stat().st_size > 10_000
    assert "ConvTranspose2d: True" in (tmp_path / "README.md").read_text()
