"""The top-level README's experiments section, rebuilt from the studies' own generated tables.

Each study runner (full mode) calls `update()` after writing its `results.md`; `python -m
experiments.top_readme` does it by hand. Only the text between `<!-- section:experiments -->` and
`<!-- /section:experiments -->` of README.md changes; the numbers come from the studies' results.md.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from experiments.common import ROOT, replace_block

BEGIN, END = "<!-- section:experiments -->", "<!-- /section:experiments -->"
STUDIES = [  # (folder, title, command, what the headline table shows)
    (
        "margins",
        "Margins in contrastive learning",
        "python -m experiments.margins.run",
        "Siamese verifier on held-out synthetic identities, test split, mean ± std over 3 seeds:",
    ),
    (
        "iou_thresholds",
        "IoU thresholds in detection",
        "python -m experiments.iou_thresholds.run",
        "Detector heads at an equal budget (10 epochs) and the anchor head over the assignment IoU, test "
        "mAP; the NMS IoU sweep (re-evaluated checkpoints) is in the study's README:",
    ),
    (
        "decoder_depth",
        "Decoder depth in U-Net",
        "python -m experiments.decoder_depth.run",
        "Our U-Net at depths 2–4, each run trained to its plateau, 4 seeds paired by seed, on synthetic "
        "shapes and real images; the difference to the best depth with its 95 % interval:",
    ),
    (
        "pretraining",
        "Pretrained vs from scratch",
        "python -m experiments.pretraining.run",
        "The three tasks on real images fine-tuned from scratch and from a self-supervised pretraining run on "
        "the same images, with all labels and with 1/8 of them, 3 seeds paired by seed; the difference with "
        "its 95 % interval:",
    ),
    (
        "transposed_conv",
        "Transposed-convolution arithmetic",
        "python -m experiments.transposed_conv.run",
        "",
    ),
]


def headline(folder: str) -> str:
    """The study's first generated table (results.md), or a line saying it has not been run."""
    path = ROOT / "experiments" / folder / "results.md"
    if folder == "transposed_conv":
        text = (ROOT / "experiments" / folder / "README.md").read_text()
        ok = "ConvTranspose2d: True" in text
        return (
            "2×2 input, 3×3 kernel, stride 2 → 5×5, printed step by step; the scatter-add equals "
            f"`torch.nn.ConvTranspose2d`: **{ok}**.\n"
        )
    if not path.is_file():
        return "_Not run yet._\n"
    lines = path.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None:
        return "_Not run yet._\n"
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end]) + "\n"


def wrap(text: str) -> str:
    return textwrap.fill(text, width=105, break_on_hyphens=False, break_long_words=False)


def section() -> str:
    parts = [
        "## Experiments: the course's studies",
        "",
        wrap(
            "Each study is a folder of `experiments/` with its Hydra experiment config "
            "(`conf/experiment/<study>.yaml`, a sweep), a runner that launches it and regenerates the "
            "tables, plots and the README's results from the run, and how to run it on the real datasets and "
            "a GPU. `make experiments` runs all five (sized for ~15 min each on a quiet 2-core CPU, the decoder-depth study ~40 min, the pretraining study ~60 min; `--quick` "
            "is a smoke run, tested in `tests/integration/test_experiments.py`). The tables below are copied from the "
            "studies' generated `results.md` by `python -m experiments.top_readme`."
        ),
        "",
    ]
    for folder, title, command, what in STUDIES:
        parts += [f"### [{title}](experiments/{folder}/README.md)", "", f"`{command}`", ""]
        if what:
            parts += [wrap(what), ""]
        parts += [headline(folder)]
    return "\n".join(parts)


def update(readme: Path = ROOT / "README.md") -> None:
    replace_block(readme, BEGIN, END, section())


if __name__ == "__main__":
    update()
