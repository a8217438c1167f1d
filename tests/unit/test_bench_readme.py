"""benchmarks/readme.py: benchmarks/README.md rebuilt from result files written in tmp_path."""

from __future__ import annotations

import json

from benchmarks import readme


def test_readme_from_results(tmp_path, monkeypatch):
    results = tmp_path / "results"
    results.mkdir()
    (results / "time_to_quality.md").write_text(
        "# Time to quality\n\nMachine: x.\n\n| model | level |\n|---|---|\n| unet | 0.3 |\n| yolo | 0.2 |\n\n"
        "![time_to_quality](time_to_quality.png)\n"
    )
    machine = {
        "cpu": "CPU",
        "cores": 2,
        "date": "2026-12-02 03:00 UTC",
        "torch_threads": 1,
        "load_average_1min": 0.5,
    }
    (results / "time_to_quality.json").write_text(json.dumps({"machine": machine, "quick": False}))
    (tmp_path / "notes.md").write_text("hand-written notes\n")
    monkeypatch.setattr(readme, "RESULTS", results)
    monkeypatch.setattr(readme, "HERE", tmp_path)
    text = readme.update(tmp_path / "README.md").read_text()
    assert "| unet | 0.3 |" in text and "| yolo | 0.2 |" not in text  # the 64-px detector row left out
    assert "![time_to_quality](results/time_to_quality.png)" in text
    assert "| `time_to_quality` | 2026-12-02 03:00 UTC | CPU, 2 cores | 1 | 0.5 |" in text
    assert "| `real_time_to_quality` | not run yet |" in text
    real = text.split("Time to quality on real images (`results/real_time_to_quality.md`)")[1]
    assert real.split("##")[0].strip().endswith("_Not run yet._")
    assert text.rstrip().endswith("hand-written notes")
