"""Study 1: margins in contrastive learning — the Siamese verifier over loss settings and seeds.

Launches the three sweeps of conf/experiment/margins.yaml (contrastive margins 0.25/0.5/1/2; triplet
batch-hard; ArcFace and NT-Xent; seeds 1–3 each: a loss takes only its own keys, so each family is a sweep
of its own), then writes `results.md` / `results.csv` (test
AUROC, EER, TAR@FAR=1e-2 and 10-fold accuracy, mean ± std over seeds), `margins.png`, the sweep's own
`sweep_summary.*`, and the results block of README.md.

    python -m experiments.margins.run             # the study (~15 min on a quiet 2-core CPU)
    python -m experiments.margins.run --quick     # a few batches on tiny data (a smoke test, ~1 min)
    python -m experiments.margins.run --from logs/experiments/margins/<time>   # re-report a finished sweep
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from experiments import common, top_readme

HERE = Path(__file__).resolve().parent
COMMAND = "python -m experiments.margins.run"
METRICS = [  # (metric, column title, lower is better)
    ("test/auroc", "AUROC", False),
    ("test/eer", "EER", True),
    ("test/tar_far1e-2", "TAR@FAR=1e-2", False),
    ("test/acc", "10-fold acc", False),
]
# the study's sweeps (sub-folders of its sweep folder), each on top of `experiment=margins`
SWEEPS = {
    "contrastive": ["model.loss.margin=0.25,0.5,1.0,2.0"],
    "triplet": ["model/loss=triplet", "model.loss.mining=hard"],
    "others": ["model/loss=arcface,ntxent"],
}
QUICK_SWEEPS = {"contrastive": ["model.loss.margin=0.5"]}
QUICK = [
    "seed=1,2",
    "model.plot_every_n_epochs=null",  # no per-run plots: the study draws its own from the numbers
    "trainer.max_epochs=1",
    "+trainer.limit_train_batches=2",
    "data.reader.num_train_identities=16",
    "data.reader.train_images_per_identity=4",
    "data.reader.num_val_identities=6",
    "data.reader.num_test_identities=6",
    "data.reader.eval_images_per_identity=4",
    "data.reader.num_val_pairs=40",
    "data.reader.num_test_pairs=40",
    "data.identities_per_batch=8",
    "data.images_per_identity=2",
]


def loss_of(job) -> dict[str, str]:
    """The job's loss as its composed config holds it: {"name": "contrastive", "margin": "0.25", ...}."""
    node = yaml.safe_load((job.path / ".hydra" / "config.yaml").read_text())["model"]["loss"]
    keys = {k: str(v) for k, v in node.items() if not k.startswith("_") and v is not None}
    return {"name": node["_target_"].rsplit(".", 1)[1].lower(), **keys}


def label(loss: dict[str, str]) -> str:
    name = loss.get("name", "?")
    if name == "contrastive":
        return f"contrastive, margin {loss.get('margin', '1.0')}"
    if name == "triplet":
        return f"triplet (batch-hard), margin {loss.get('margin', '0.2')}"
    if name == "arcface":
        return f"ArcFace, margin {loss.get('margin', '0.5')} rad, scale 30"
    if name == "ntxent":
        return f"NT-Xent, temperature {loss.get('temperature', '0.1')}"
    return ", ".join(f"{k} {v}" for k, v in loss.items())


def aggregate(jobs) -> list[dict]:
    """One row per loss setting (in sweep order): its seeds and every metric's values over them."""
    groups: dict[str, dict] = {}
    for job in jobs:
        loss = loss_of(job)
        group = groups.setdefault(str(sorted(loss.items())), {"loss": loss, "seeds": [], "values": {}})
        group["seeds"].append(job.overrides.get("seed", ""))
        for metric, *_ in METRICS:
            group["values"].setdefault(metric, []).append(float(job.metrics[metric]))
    return list(groups.values())


def plot(groups: list[dict], path: Path) -> None:
    plt = common.plt()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    contrastive = [g for g in groups if g["loss"].get("name") == "contrastive"]
    others = [g for g in groups if g["loss"].get("name") != "contrastive"]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (metric, title, _) in zip(axes, METRICS[:3]):
        if contrastive:
            xs = [float(g["loss"]["margin"]) for g in contrastive]
            stats = [common.mean_std(g["values"][metric]) for g in contrastive]
            ax.errorbar(xs, [m for m, _ in stats], yerr=[s for _, s in stats], fmt="o-", capsize=4, color="k")
            ax.set_xscale("log", base=2)
            ax.set_xticks(xs, [f"{x:g}" for x in xs])
        for colour, g in zip(colours, others):
            mean, std = common.mean_std(g["values"][metric])
            ax.axhline(mean, color=colour, ls="--", label=label(g["loss"]))
            ax.axhspan(mean - std, mean + std, color=colour, alpha=0.12)
        ax.set_xlabel("contrastive margin (euclidean, unit-sphere embeddings)")
        ax.set_title(f"test {title} (mean ± std over seeds)", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def takeaways(groups: list[dict]) -> str:
    """Generated from the numbers: the best setting and the contrastive AUROC against the margin."""

    def auroc(g):
        return common.mean_std(g["values"]["test/auroc"])[0]

    best = max(groups, key=auroc)
    contrastive = [g for g in groups if g["loss"].get("name") == "contrastive"]
    trend = ", ".join(f"{g['loss']['margin']} → {auroc(g):.3f}" for g in contrastive)
    return f"Highest mean test AUROC: {label(best['loss'])} ({auroc(best):.3f}). " + (
        f"Contrastive, test AUROC by margin: {trend}.\n" if contrastive else "\n"
    )


def report(sweep_dir: Path, out_dir: Path, wall_s: float, command: str) -> list[dict]:
    sweeps = [d for d in (sweep_dir / name for name in SWEEPS) if d.is_dir()]
    jobs = [job for d in sweeps for job in common.jobs_of(d)]
    groups = aggregate(jobs)
    header = ["loss setting", "seeds"] + [title for _, title, _ in METRICS]
    best = {
        metric: (min if low else max)(common.mean_std(g["values"][metric])[0] for g in groups)
        for metric, _, low in METRICS
    }
    rows, csv_rows = [], []
    for g in groups:
        cells = []
        for metric, _, _ in METRICS:
            text = common.pm(g["values"][metric])
            cells.append(f"**{text}**" if common.mean_std(g["values"][metric])[0] == best[metric] else text)
        rows.append([label(g["loss"]), len(g["seeds"]), *cells])
        csv_rows.append(
            [label(g["loss"]), len(g["seeds"])]
            + [f"{v:.4f}" for metric, *_ in METRICS for v in common.mean_std(g["values"][metric])]
        )
    table = common.markdown_table(header, rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.md").write_text(table)
    common.write_csv(
        out_dir / "results.csv",
        ["loss setting", "seeds"] + [f"{m} {s}" for m, *_ in METRICS for s in ("mean", "std")],
        csv_rows,
    )
    plot(groups, out_dir / "margins.png")
    for d in sweeps:
        common.copy_summary(d, out_dir, "sweep" if d.name == "contrastive" else f"sweep_{d.name}")
    reader = yaml.safe_load((jobs[0].path / ".hydra" / "config.yaml").read_text())["data"]["reader"]
    epochs = sorted({str(j.overrides.get("trainer.max_epochs", "")) for j in jobs} - {""})
    results = (
        f"Test split: {reader['num_test_identities']} held-out identities, {reader['num_test_pairs']} pairs "
        "(half same); mean ± std (sample std, ddof 1) over "
        f"the seeds of each row; best mean in bold. {len(jobs)} runs.\n\n"
        + table
        + "\n"
        + takeaways(groups)
        + "\n![margins](margins.png)\n\n"
        + "Every run: `sweep_summary.md` / `sweep_summary.csv` (contrastive), `sweep_triplet_summary.*` and "
        + "`sweep_others_summary.*` (all metrics, val and test, run time per job).\n\n"
        + (
            f"Quick mode: epochs {', '.join(epochs)} on tiny data — the numbers mean nothing.\n\n"
            if epochs
            else ""
        )
        + common.footer(wall_s, command)
    )
    common.rewrite_readme(out_dir, HERE / "README.md", results)
    return groups


def run(out_dir: Path = HERE, quick: bool = False, sweep_dir: Path | None = None, existing: bool = False):
    """Run the sweep (unless `existing`) into `sweep_dir` and write the study's outputs into `out_dir`."""
    out_dir = Path(out_dir)
    sweep_dir = common.sweep_root("margins", quick, sweep_dir)
    sweeps = QUICK_SWEEPS if quick else SWEEPS
    if not existing:
        parallel = [] if quick else ["launcher=joblib"]  # two jobs at once on two cores
        for name, overrides in sweeps.items():
            args = ["experiment=margins", *overrides, *parallel, *(QUICK if quick else [])]
            common.launch("train.py", args, sweep_dir / name)
    command = COMMAND + (" --quick" if quick else "")
    wall_s = common.wall_seconds(*(sweep_dir / name for name in SWEEPS))
    result = report(sweep_dir, out_dir, wall_s, command)
    if out_dir.resolve() == HERE:  # the study's own folder: refresh the top-level README's table too
        top_readme.update()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few batches on tiny data (smoke test)")
    parser.add_argument("--out", type=Path, default=None, help="where tables/plots/README go (default: here)")
    parser.add_argument("--from", dest="existing", type=Path, default=None, help="re-report a finished sweep")
    args = parser.parse_args()
    out = args.out or (common.ROOT / "logs" / "experiments" / "margins_quick" if args.quick else HERE)
    run(out, args.quick, args.existing, existing=args.existing is not None)


if __name__ == "__main__":
    main()
