"""Optuna searches (hydra/sweeper=imagelab_optuna): search space, failed trials, best params, resume.

The searches with training run train.py's `__main__` in this interpreter (tests/tiny_models.run_in_process):
what is tested is the sweeper, not the process; searches as separate processes: test_optuna_sweeper.py and
test_optuna_postgres.py."""

from __future__ import annotations

import json

import optuna
import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from hydra_plugins.imagelab_optuna_sweeper._search_space import distribution_of
from tests.conftest import make_cfg
from tests.tiny_models import MODELS, SEARCH, SWEEP, run_in_process, tiny


def dist(line: str):
    return distribution_of(OverridesParser.create().parse_overrides([line])[0])


def test_search_space_syntax():
    assert dist("a=choice(2, 3, 4)") == CategoricalDistribution([2, 3, 4])
    assert dist("a=2,3") == CategoricalDistribution([2, 3])
    assert dist("a=range(2, 8, 2)") == IntDistribution(2, 6, step=2)  # Hydra's range: stop excluded
    assert dist("a=interval(0.1, 1.0)") == FloatDistribution(0.1, 1.0)
    assert dist("a=tag(int, interval(1, 9))") == IntDistribution(1, 9)
    assert dist("a=tag(int, log, interval(8, 64))") == IntDistribution(8, 64, log=True)
    assert dist("a=tag(log, interval(1e-4, 1e-2))") == FloatDistribution(1e-4, 1e-2, log=True)
    assert dist("a=5") is None
    # ValueError: Hydra's plugin scan may load the module a second time (another SearchSpaceError class)
    with pytest.raises(ValueError, match="a: a log interval needs low > 0"):
        dist("a=tag(log, interval(0, 1))")
    assert dist("a=range(0.5, 2.5)") == FloatDistribution(0.5, 1.5, step=1.0)  # float bounds: floats


@pytest.mark.parametrize("model", MODELS)
def test_search_configs_compose(tmp_path, model):
    """Each model's search composes, follows monitor_mode (max by default) and searches valid keys."""
    name, _ = SEARCH[model]
    cfg = make_cfg(tmp_path, [f"hparams_search={name}"])
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "maximize"
    flipped = make_cfg(tmp_path, [f"hparams_search={name}", "monitor_mode=min", "model.monitor=val/loss"])
    assert flipped.hydra.sweeper.direction == "minimize" and flipped.optimized_metric == "val/loss"
    assert flipped.callbacks.model_checkpoint.mode == "min" and flipped.callbacks.early_stopping.mode == "min"
    assert (
        str(cfg.hydra.mode) == "RunMode.MULTIRUN" and sweeper.max_failure_rate == 1.0
    )  # a failed trial: go on
    assert sweeper.sampler._target_.endswith("TPESampler")
    random = make_cfg(tmp_path, [f"hparams_search={name}", "hydra/sweeper/sampler=random"])
    assert random.hydra.sweeper.sampler._target_.endswith("RandomSampler")  # the group's choice is kept
    for key in sweeper.params:  # every searched key exists in the model's config
        assert OmegaConf.select(cfg, key, default="<absent>") != "<absent>", key


def search_args(
    model: str, sweep_dir, n_trials: int, sampler: list[str], params: dict[str, str] | None = None
):
    name, space = SEARCH[model]
    space = params or space
    flat = ", ".join(f"{k}: '{v}'" for k, v in space.items())
    return [
        f"hparams_search={name}",
        # the tiny overrides, but not of a searched key (a command-line value fixes a key in a search)
        *[o for o in tiny(model, "trainer.max_epochs=1", "test=false") if o.split("=")[0] not in space],
        f"hydra.sweep.dir={sweep_dir}",
        f"hydra.sweeper.n_trials={n_trials}",
        f"hydra.sweeper.params={{{flat}}}",
        *sampler,
    ]


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS[:1])  # model-independent: run once, on the cheapest model
def test_failed_trial_does_not_end_the_search(tmp_path, model):
    key, (good, _), bad = SWEEP[model]
    # the bad value, then the good one (enqueued); the search's other keys fixed at the tiny config's values
    name, _ = SEARCH[model]
    cfg = make_cfg(tmp_path / "cfg", [*tiny(model), f"hparams_search={name}"])
    given = {o.split("=")[0] for o in tiny(model)}
    fixed = [
        f"{k}={OmegaConf.select(cfg, k)}" for k in cfg.hydra.sweeper.params if k != key and k not in given
    ]
    sampler = ["hydra.sweeper.sampler._target_=optuna.samplers.RandomSampler", "hydra.sweeper.sampler.seed=0"]
    sampler += [f"hydra.sweeper.enqueue=[{{{key}: {bad}}}, {{{key}: {good}}}]", *fixed]
    proc = run_in_process(search_args(model, tmp_path / "sweep", 2, sampler, {key: f"choice({bad}, {good})"}))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    best = yaml.safe_load((tmp_path / "sweep" / "best_params.yaml").read_text())
    assert best["n_trials"] == 2 and best["n_complete"] == 1 and best["n_fail"] == 1
    assert str(best["best_params"][key]) == good
    # the value the search maximised is the model's monitor in the best trial's metrics.json
    metrics = json.loads((tmp_path / "sweep" / str(best["best_trial"]) / "metrics.json").read_text())
    assert best["metric"] == make_cfg(tmp_path / "c", tiny(model)).model.monitor
    assert best["best_value"] == pytest.approx(metrics[best["metric"]])
    study = optuna.load_study(
        study_name=best["study_name"], storage=f"sqlite:///{tmp_path / 'sweep' / 'optuna.db'}"
    )
    assert sorted(t.state.name for t in study.trials) == ["COMPLETE", "FAIL"]
    summary = (tmp_path / "sweep" / "summary.md").read_text()
    assert "failed" in summary and key in summary and (tmp_path / "sweep" / "summary.png").is_file()


def _count(db, states):
    try:
        [summary] = optuna.get_all_study_summaries(storage=f"sqlite:///{db}")
        study = optuna.load_study(study_name=summary.study_name, storage=f"sqlite:///{db}")
        return sum(t.state in states for t in study.trials)
    except Exception:  # the database is not created yet
        return 0


@pytest.mark.slow
def test_pareto_search_over_seeds(tmp_path):
    """conf/hparams_search/unet_pareto.yaml: two objectives, each trial the mean of its seeds' jobs."""
    sweep = tmp_path / "sweep"
    overrides = [
        o for o in tiny("unet", "trainer.max_epochs=1", "test=false") if not o.startswith("model.net.depth")
    ]
    args = ["hparams_search=unet_pareto", *overrides, f"hydra.sweep.dir={sweep}", "hydra.sweeper.n_trials=2"]
    args += ["hydra.sweeper.seeds=[1,2]", "model.net.depth=range(1, 2)"]
    proc = run_in_process(args)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    study = optuna.load_study(study_name=sweep.name, storage=f"sqlite:///{sweep / 'optuna.db'}")
    assert len(study.trials) == 2 and all(t.state == TrialState.COMPLETE for t in study.trials)
    for t in study.trials:
        jobs = [json.loads((sweep / f"{t.number}_seed{s}" / "metrics.json").read_text()) for s in (1, 2)]
        assert t.values[0] == pytest.approx(sum(j["val/miou"] for j in jobs) / 2)
        assert t.values[1] == pytest.approx(sum(j["val/loss"] for j in jobs) / 2)
    official = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert official["name"] == "optuna" and len(official["solutions"]) == len(study.best_trials)
    md = (sweep / "summary.md").read_text()
    assert "4 jobs: 4 ok" in md and "## Mean ± std over seeds" in md
