"""A thin Hydra sweeper on current Optuna (hydra-optuna-sweeper 1.3 pins optuna<3, which fails on SQLAlchemy 2).

Each trial is one Hydra job (run folder `<sweep folder>/<trial number>`) launched by whatever
`hydra/launcher` is configured; the task function's return value (train()'s `optimized_metric`) is the
trial's value. A job that fails, or returns None/NaN, is a failed trial and the search goes on.

The study lives in a database: `sqlite:///<sweep folder>/optuna.db` by default, so rerunning the same
command with `hydra.sweep.dir=<that folder>` resumes the search (trials a killed search left running are
marked failed and their parameters re-queued); or any SQLAlchemy URL (`postgresql://...`), so that
workers on several machines add trials to one study. After every batch the best trial so far is
written to `<sweep folder>/best_params.yaml`.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import optuna
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

log = logging.getLogger(__name__)

BEST_FILE = "best_params.yaml"


class SearchSpaceError(ValueError):
    """A `hydra.sweeper.params` entry that cannot be turned into an Optuna distribution."""


def _is_int(*values: Any) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def distribution_of(override: Override) -> BaseDistribution | None:
    """The Optuna distribution of one sweep override (None for a fixed `key=value`).

    choice(a, b, ...) and `a,b,c` → categorical; range(start, stop[, step]) → integers start..stop-1;
    interval(low, high) → float; `tag(int, interval(...))` → integers; `tag(log, ...)` → log scale.
    """
    if not override.is_sweep_override():
        return None
    key = override.get_key_element()
    value = override.value()
    if isinstance(value, ChoiceSweep):
        return CategoricalDistribution(list(value.list))
    if isinstance(value, RangeSweep):
        start, stop, step = value.start, value.stop, value.step
        if not _is_int(start, stop, step):
            raise SearchSpaceError(
                f"{key}: range() needs integers (got {start}, {stop}, {step}); use interval()"
            )
        if step <= 0 or stop <= start:
            raise SearchSpaceError(f"{key}: range({start}, {stop}, {step}) is empty")
        return IntDistribution(int(start), int(stop - step), step=int(step))
    if isinstance(value, IntervalSweep):
        log_scale = "log" in value.tags
        low, high = value.start, value.end
        if not low < high:
            raise SearchSpaceError(f"{key}: interval({low}, {high}) needs low < high")
        if log_scale and low <= 0:
            raise SearchSpaceError(f"{key}: a log interval needs low > 0 (got {low})")
        if "int" in value.tags:  # Hydra parses interval ends as floats: integers are asked for by tag
            return IntDistribution(int(low), int(high), log=log_scale)
        return FloatDistribution(float(low), float(high), log=log_scale)
    raise SearchSpaceError(
        f"{key}: unsupported sweep {override.input_line!r}; use choice(), range() or interval()"
    )


def _fmt(value: Any) -> str:
    """A trial value as a Hydra override value."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value if value.replace("_", "").replace("-", "").replace(".", "").isalnum() else f"'{value}'"
    return str(value)


class OptunaSweeper(Sweeper):
    def __init__(
        self,
        direction: str = "maximize",
        n_trials: int = 20,
        n_jobs: int = 1,
        storage: str | None = None,
        study_name: str | None = None,
        sampler: dict | optuna.samplers.BaseSampler | None = None,
        params: dict | None = None,
        retry_interrupted: bool = True,
    ):
        super().__init__()
        if direction not in ("maximize", "minimize"):
            raise ValueError(f"hydra.sweeper.direction: expected maximize or minimize (got {direction!r})")
        if n_trials < 1 or n_jobs < 1:
            raise ValueError(f"hydra.sweeper.n_trials and n_jobs must be >= 1 (got {n_trials}, {n_jobs})")
        self.direction, self.n_trials, self.n_jobs = direction, int(n_trials), int(n_jobs)
        self.storage, self.study_name = storage, study_name
        self.sampler_cfg, self.params = sampler, dict(params or {})
        self.retry_interrupted = retry_interrupted
        self.config: DictConfig | None = None
        self.launcher = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    # ---- search space -----------------------------------------------------------------------------------
    def search_space(self, arguments: list[str]) -> tuple[dict[str, BaseDistribution], list[str]]:
        """Distributions of the swept keys (config `params`, then command-line sweeps) and the fixed overrides."""
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        lines = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        space: dict[str, BaseDistribution] = {}
        fixed: dict[str, str] = {}
        for override in parser.parse_overrides(lines):
            key = override.get_key_element()
            dist = distribution_of(override)
            if dist is None:
                fixed[key] = override.input_line
                space.pop(key, None)
            else:
                space[key] = dist
                fixed.pop(key, None)
        if not space:
            raise SearchSpaceError("nothing to search: give hydra.sweeper.params (or key=choice(...) sweeps)")
        return space, list(fixed.values())

    # ---- study ------------------------------------------------------------------------------------------
    def storage_url(self, sweep_dir: Path) -> str:
        return self.storage or f"sqlite:///{(sweep_dir / 'optuna.db').resolve()}"

    def open_study(self, sweep_dir: Path) -> optuna.Study:
        sampler = self.sampler_cfg  # Hydra instantiates the sweeper recursively: usually a sampler already
        if sampler is not None and not isinstance(sampler, optuna.samplers.BaseSampler):
            sampler = instantiate(sampler)
        url = self.storage_url(sweep_dir)
        name = self.study_name or sweep_dir.resolve().name
        study = optuna.create_study(
            study_name=name, storage=url, sampler=sampler, direction=self.direction, load_if_exists=True
        )
        log.info("Optuna study %r in %s: %d trials so far", name, url.split("@")[-1], len(study.trials))
        if self.retry_interrupted and url.startswith("sqlite"):
            # a single-machine study: trials still `running` belong to a search that was killed
            for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                optuna.Trial(study, trial._trial_id).set_user_attr("interrupted", True)
                study.tell(trial.number, state=TrialState.FAIL)
                study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
                log.info("trial %d was interrupted: marked failed, its parameters re-queued", trial.number)
        return study

    def write_best(self, study: optuna.Study, sweep_dir: Path, metric: str | None) -> None:
        trials = study.get_trials(deepcopy=False)
        states = {
            s.name.lower(): sum(t.state == s for t in trials) for s in (TrialState.COMPLETE, TrialState.FAIL)
        }
        record: dict[str, Any] = {
            "study_name": study.study_name,
            "direction": self.direction,
            "metric": metric,
            "n_trials": len(trials),
            **{f"n_{k}": v for k, v in states.items()},
        }
        if states["complete"]:
            best = study.best_trial
            record.update(
                best_trial=best.number,
                best_value=float(best.value),
                best_params=dict(best.params),
                best_overrides=" ".join(f"{k}={_fmt(v)}" for k, v in best.params.items()),
            )
        path = sweep_dir / BEST_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(record, sort_keys=False))
        tmp.replace(path)

    @staticmethod
    def counted(study: optuna.Study) -> int:
        """Trials that count toward n_trials: all (any worker's, queued ones too) but the interrupted ones."""
        return sum(not t.user_attrs.get("interrupted") for t in study.get_trials(deepcopy=False))

    # ---- the search -------------------------------------------------------------------------------------
    def sweep(self, arguments: list[str]) -> list:
        assert self.config is not None and self.launcher is not None
        space, fixed = self.search_space(arguments)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        metric = OmegaConf.select(self.config, "optimized_metric", default=None)
        study = self.open_study(sweep_dir)
        returns = []
        while True:
            remaining = self.n_trials - self.counted(study)
            if remaining <= 0:
                break
            trials = [study.ask(space) for _ in range(min(self.n_jobs, remaining))]
            batch = [
                [*fixed, *(f"{k}={_fmt(v)}" for k, v in t.params.items()), f"hydra.sweep.subdir={t.number}"]
                for t in trials
            ]
            self.validate_batch_is_legal(batch)
            results = self.launcher.launch(batch, initial_job_idx=trials[0].number)
            for trial, result in zip(trials, results):
                self.tell(study, trial, result)
            returns.append(results)
            self.write_best(study, sweep_dir, metric)
        self.write_best(study, sweep_dir, metric)
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if done:
            log.info(
                "Best trial %d: %s = %s with %s",
                study.best_trial.number,
                metric,
                study.best_value,
                study.best_params,
            )
        else:
            log.warning("no trial of the study %r completed", study.study_name)
        return returns

    def tell(self, study: optuna.Study, trial: optuna.Trial, result) -> None:
        """Record one job's outcome: a finite number completes the trial; an error, None or NaN fails it."""
        try:
            value = result.return_value
        except Exception as err:  # the job raised (sweep_continue_on_error=false): a failed trial
            log.warning("trial %d failed: %s", trial.number, err)
            study.tell(trial, state=TrialState.FAIL)
            return
        try:
            value = float(value)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            log.warning("trial %d failed (returned %r)", trial.number, result.return_value)
            study.tell(trial, state=TrialState.FAIL)
            return
        study.tell(trial, value)
