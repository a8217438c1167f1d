"""Study 1, why ArcFace sits low: the class-centre losses (ArcFace, CosFace) over margin, scale and the centres'
initial length, at the study's budget, with what each run learned about its *training* identities.

For every run, besides the test AUROC, the training images (no augmentation) go through the trained
network and are classified by the learned centres (`argmax cos(embedding, centre)`): the centre-classifier
accuracy on the training identities and the mean angle between an embedding and its own centre. A loss
that cannot fit its training identities (accuracy near chance, angles near 90°) is an optimisation
problem, not over-fitting; a fitted classifier with a poor test AUROC would be the opposite. The table goes
into the study's README between `<!-- diagnosis:begin -->` and `<!-- diagnosis:end -->`.

    python -m experiments.margins.diagnose            # 8 settings × 2 seeds (~10 min on a quiet 2-core CPU)
    python -m experiments.margins.diagnose --from logs/experiments/margins_diagnosis/<time>
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from experiments import common

HERE = Path(__file__).resolve().parent
COMMAND = "python -m experiments.margins.diagnose"
SEEDS = "seed=1,2"
# (label, overrides on top of experiment=margins): ArcFace's margin in radians, CosFace's on the cosine
SETTINGS = [
    ("ArcFace m=0.5 rad, s=30 (the study's)", ["model/loss=arcface"]),
    ("ArcFace m=0.5, s=30, centres N(0, 0.01)", ["model/loss=arcface", "model.loss.centre_init_std=0.01"]),
    ("ArcFace m=0.2, s=30", ["model/loss=arcface", "model.loss.margin=0.2"]),
    (
        "ArcFace m=0 (normalised softmax), s=16",
        ["model/loss=arcface", "model.loss.margin=0.0", "model.loss.scale=16"],
    ),
    ("CosFace m=0.35, s=30", ["model/loss=cosface"]),
    ("CosFace m=0.1, s=16", ["model/loss=cosface", "model.loss.margin=0.1", "model.loss.scale=16"]),
    ("ArcFace m=0.5, s=30, 3× the epochs (450 steps)", ["model/loss=arcface", "trainer.max_epochs=18"]),
    ("CosFace m=0.35, s=30, 3× the epochs (450 steps)", ["model/loss=cosface", "trainer.max_epochs=18"]),
]


@torch.no_grad()
def centre_fit(run: Path) -> tuple[float, float]:
    """(accuracy of argmax over the learned centres on the training images, mean angle to the own centre°)."""
    from src.data.common.transforms import Transformed
    from src.pipeline import build_data
    from src.runtime.config.instantiate import build

    cfg = OmegaConf.load(run / ".hydra" / "config.yaml")
    cfg.data.num_workers = 0
    datamodule = build_data(cfg)
    model = build(cfg.model, "model")
    state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    centres = state["criterion.fn.W"]  # embedding_size × identities (PML's layout)
    model.criterion.set_num_classes(centres.shape[1])
    model.load_state_dict(state)
    model.eval()
    images = Transformed(datamodule.reader.dataset("train"), datamodule.eval_tf)
    cosines, labels = [], []
    for x, y in torch.utils.data.DataLoader(images, batch_size=128):
        emb = torch.nn.functional.normalize(model.net(x), dim=1)
        cosines.append(emb @ torch.nn.functional.normalize(centres, dim=0))
        labels.append(y)
    cos, y = torch.cat(cosines), torch.cat(labels)
    own = cos[torch.arange(len(y)), y].clamp(-1, 1)
    return float((cos.argmax(1) == y).float().mean()), float(torch.rad2deg(torch.acos(own)).mean())


def report(sweep_dir: Path, wall_s: float) -> str:
    header = ["setting", "seeds", "test AUROC", "centre accuracy on training ids", "angle to own centre (°)"]
    rows, csv_rows = [], []
    for i, (name, _) in enumerate(SETTINGS):
        jobs = common.jobs_of(sweep_dir / str(i))
        auroc = [float(j.metrics["test/auroc"]) for j in jobs]
        fits = [centre_fit(j.path) for j in jobs]
        acc, angle = [a for a, _ in fits], [g for _, g in fits]
        rows.append([name, len(jobs), common.pm(auroc), common.pm(acc), common.pm(angle, 1)])
        csv_rows.append(
            [name, len(jobs), *(f"{v:.4f}" for v in (*common.mean_std(auroc), *common.mean_std(acc)))]
        )
    identities = OmegaConf.load(jobs[0].path / ".hydra" / "config.yaml").data.reader.num_train_identities
    table = common.markdown_table(header, rows)
    common.write_csv(
        HERE / "diagnosis.csv",
        ["setting", "seeds", "auroc mean", "auroc std", "centre acc mean", "centre acc std"],
        csv_rows,
    )
    chance = 1 / identities
    return (
        f"Centre accuracy: the training images classified by the learned centres ({identities} identities, "
        f"chance {chance:.3f}); angle: mean angle between an embedding and its own centre (90° = unrelated).\n\n"
        + table
        + "\n"
        + common.footer(wall_s, COMMAND)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="existing", type=Path, help="re-report a finished diagnosis sweep")
    args = parser.parse_args()
    sweep_dir = args.existing or common.ROOT / "logs" / "experiments" / "margins_diagnosis" / time.strftime(
        "%Y-%m-%d_%H-%M-%S"
    )
    if args.existing is None:
        for i, (_, overrides) in enumerate(SETTINGS):
            common.launch(
                "train.py", ["experiment=margins", *overrides, SEEDS, "launcher=joblib"], sweep_dir / str(i)
            )
    wall_s = common.wall_seconds(*(sweep_dir / str(i) for i in range(len(SETTINGS))))
    body = report(sweep_dir, wall_s)
    common.replace_block(HERE / "README.md", "<!-- diagnosis:begin -->", "<!-- diagnosis:end -->", body)
    print(body)


if __name__ == "__main__":
    main()
