"""The search behind `OptunaSweeper` (optuna_sweeper.py): a Hydra sweeper on current Optuna, a drop-in superset
of hydra-optuna-sweeper (docs/sweeps-and-scale.md).
(One file over 300 lines: Hydra's Sweeper interface is one class whose batch loop ties the study, the launcher and the results together.)

Each trial is one Hydra job (run folder `<sweep folder>/<trial number>`; with `seeds`, one job per seed,
`<trial number>_seed<s>`) launched by whatever `hydra/launcher` is configured; the task function's
return value (train()'s `optimized_metric`, a list of them for several directions) is the trial's value.
A job that fails, or returns None/NaN, is a failed trial; when more than `max_failure_rate` of the
trials failed (default 0.0, as the official plugin: the first failure) the search stops, its last line
the failing job's own exception.

The study lives in a database: `sqlite:///<sweep folder>/optuna.db` by default, so rerunning the same
command with `hydra.sweep.dir=<that folder>` resumes the search; or any SQLAlchemy URL / storage object,
so that workers on several machines add trials to one study. `n_trials` counts the study's trials in
total (different on purpose from the official plugin, which runs `n_trials` more on every call).
After every batch `best_params.yaml` and `optimization_results.yaml` are rewritten.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import math
import statistics
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import get_class, get_method, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from optuna.trial import TrialState

from hydra_plugins.imagelab_optuna_sweeper import _results as results
from hydra_plugins.imagelab_optuna_sweeper import _search_space as search_space
from hydra_plugins.imagelab_optuna_sweeper import _study as studies
from hydra_plugins.imagelab_optuna_sweeper._search_space import SearchSpaceError
from hydra_plugins.imagelab_optuna_sweeper.config import MOTPE_REMOVED, SAMPLERS

log = logging.getLogger(__name__)

BEST_FILE = results.BEST_FILE
DIRECTIONS = ("maximize", "minimize")


def _directions(direction: Any) -> list[str]:
    items = list(direction) if isinstance(direction, (list, tuple, ListConfig)) else [direction]
    out = [getattr(d, "name", d) for d in items]  # the official plugin's Direction enum, or a string
    bad = [d for d in out if d not in DIRECTIONS]
    if not out or bad:
        raise SearchSpaceError(
            f"hydra.sweeper.direction: expected maximize, minimize or a list of them (got {direction})"
        )
    return out


def _sampler_config(sampler: Any) -> dict | None:
    """The sampler's keyword arguments (null ones left to the sampler's own default).

    A `_target_` given over a group's node (`hydra.sweeper.sampler._target_=...RandomSampler` on the
    default `tpe`) keeps the group's other keys: those the new sampler does not take are dropped when they
    still hold a group default; any other unknown key is an error (a typo).
    """
    if sampler is None or isinstance(sampler, optuna.samplers.BaseSampler):
        return None
    cfg = OmegaConf.to_container(sampler, resolve=True) if OmegaConf.is_config(sampler) else dict(sampler)
    cfg = {k: v for k, v in cfg.items() if v is not None or k == "seed"}
    target = cfg.get("_target_")
    if str(target).rsplit(".", 1)[-1] in ("MOTPESampler", "raise_motpe_removed"):
        raise SearchSpaceError(MOTPE_REMOVED)
    try:
        params = inspect.signature(get_class(target)).parameters if target else None
    except Exception:  # not a class we can inspect: let instantiate report it
        return cfg
    if params is None or any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return cfg
    defaults = {(k, repr(v)) for node in SAMPLERS.values() for k, v in node.items()}
    for key in [k for k in cfg if not k.startswith("_") and k not in params]:
        if (key, repr(cfg[key])) not in defaults:
            raise SearchSpaceError(f"hydra.sweeper.sampler.{key}: {target} has no such argument")
        cfg.pop(key)
    return cfg


class OptunaSearch(Sweeper):
    def __init__(
        self,
        direction: Any,
        n_trials: int,
        n_jobs: int,
        storage: Any,
        study_name: str | None,
        sampler: Any,
        params: dict | None,
        max_failure_rate: float,
        custom_search_space: str | None,
        enqueue: list | None,
        seeds: list | None,
        retry_interrupted: bool,
        heartbeat_interval: int,
    ):
        super().__init__()
        self.directions = _directions(direction)
        if n_trials < 1 or n_jobs < 1:
            raise SearchSpaceError(
                f"hydra.sweeper.n_trials and n_jobs must be >= 1 (got {n_trials}, {n_jobs})"
            )
        if not 0.0 <= float(max_failure_rate) <= 1.0:
            raise SearchSpaceError(f"hydra.sweeper.max_failure_rate: expected 0..1 (got {max_failure_rate})")
        self.n_trials, self.n_jobs, self.max_failure_rate = (
            int(n_trials),
            int(n_jobs),
            float(max_failure_rate),
        )
        self.storage_spec, self.study_name = storage, study_name
        self.sampler_spec = sampler
        _sampler_config(sampler)  # a removed or misspelt sampler is refused here, before the sweep starts
        self.params = OmegaConf.to_container(params) if OmegaConf.is_config(params) else dict(params or {})
        self.custom_search_space = get_method(custom_search_space) if custom_search_space else None
        self.enqueue = [dict(p) for p in (enqueue or [])]
        self.seeds = [int(s) for s in seeds] if seeds else None
        self.retry_interrupted = retry_interrupted
        self.heartbeat_interval = int(heartbeat_interval)
        self.config: DictConfig | None = None
        self.launcher = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    # ---- search space -----------------------------------------------------------------------------------
    def search_space(self, arguments: list[str]) -> tuple[dict, list[str]]:
        """Distributions of the swept keys (config `params`, then command-line sweeps) and the fixed overrides."""
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        space, fixed = search_space.parse(search_space.param_lines(self.params, arguments, parser), parser)
        if not space and self.custom_search_space is None:  # as the official plugin: n_trials runs as it is
            log.info("no search space (hydra.sweeper.params is empty): n_trials runs of the config as it is")
        return space, fixed

    # ---- study ------------------------------------------------------------------------------------------
    def make_sampler(self, space: dict, seed_offset: int) -> optuna.samplers.BaseSampler | None:
        """The configured sampler; a seeded one resuming a study is seeded `seed + trials so far`, so that
        it does not draw the parameter sets it drew in the run that was interrupted."""
        if isinstance(self.sampler_spec, optuna.samplers.BaseSampler):
            return self.sampler_spec
        cfg = _sampler_config(self.sampler_spec)
        if cfg is None:
            return None
        if cfg.get("seed") is not None:
            cfg["seed"] = int(cfg["seed"]) + seed_offset
        if cfg.get("_target_", "").endswith("CmaEsSampler") and importlib.util.find_spec("cmaes") is None:
            raise SearchSpaceError("hydra/sweeper/sampler=cmaes needs the cmaes package: pip install cmaes")
        if cfg.get("_target_", "").endswith("GridSampler"):
            cfg.pop("_partial_", None)
            return instantiate(cfg, search_space=search_space.grid_of(space))
        return instantiate(cfg)

    def is_grid(self) -> bool:
        cfg = _sampler_config(self.sampler_spec)
        return isinstance(self.sampler_spec, optuna.samplers.GridSampler) or bool(
            cfg and str(cfg.get("_target_", "")).endswith("GridSampler")
        )

    def open_study(self, sweep_dir: Path, space: dict | None = None) -> optuna.Study:
        space = space or {}
        default_url = f"sqlite:///{(sweep_dir / 'optuna.db').resolve()}"
        storage = studies.storage_of(self.storage_spec, default_url, self.heartbeat_interval)
        name = self.study_name or sweep_dir.resolve().name
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            sampler=self.make_sampler(space, 0),
            directions=self.directions,
            load_if_exists=True,
        )
        so_far = len(study.get_trials(deepcopy=False))
        if so_far:
            sampler = self.make_sampler(space, so_far)
            if sampler is not None:
                study.sampler = sampler
        log.info(
            "Optuna study %r in %s: %d trials so far; sampler %s, %s",
            name,
            studies.describe(storage),
            so_far,
            type(study.sampler).__name__,
            "/".join(self.directions),
        )
        if not so_far:
            for params in self.enqueue:  # tried first, in this order (a new study only)
                study.enqueue_trial(params)
        if self.retry_interrupted:
            # trials of the sweep folder's own database without an owner: left by an older search
            studies.recover(study, legacy_running_are_dead=self.storage_spec is None)
        return study

    def counted(self, study: optuna.Study) -> int:
        """Trials that count toward n_trials: started ones (any worker's) that were not run again.

        Queued trials (`enqueue`, retries) are not counted: `ask()` hands them out first.
        """
        trials = study.get_trials(deepcopy=False)
        again = studies.retried(trials)
        return sum(
            t.state != TrialState.WAITING and t.number not in again and not t.user_attrs.get("interrupted")
            for t in trials
        )

    def ask(self, study: optuna.Study, space: dict) -> optuna.Trial:
        with warnings.catch_warnings():  # "heartbeat is supposed to be used with Study.optimize": we beat
            warnings.simplefilter("ignore")
            trial = study.ask(space)
        trial.set_user_attr("worker", studies.owner())
        if self.custom_search_space is not None:
            self.custom_search_space(self.config, trial)
        return trial

    def jobs_of(self, trial: optuna.Trial, fixed: list[str]) -> list[list[str]]:
        base = [*fixed, *(f"{k}={results.fmt(v)}" for k, v in trial.params.items())]
        if self.seeds is None:
            return [[*base, f"hydra.sweep.subdir={trial.number}"]]
        return [[*base, f"seed={s}", f"hydra.sweep.subdir={trial.number}_seed{s}"] for s in self.seeds]

    # ---- the search -------------------------------------------------------------------------------------
    def sweep(self, arguments: list[str]) -> list:
        assert self.config is not None and self.launcher is not None
        space, fixed = self.search_space(arguments)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        metric = OmegaConf.select(self.config, "optimized_metric", default=None)
        metric = OmegaConf.to_container(metric) if OmegaConf.is_config(metric) else metric
        n_trials = self.n_trials
        if self.is_grid():
            size = search_space.grid_size(search_space.grid_of(space))
            if size < n_trials:
                log.info("n_trials %d capped at the grid's size, %d", n_trials, size)
            n_trials = min(n_trials, size)
        study = self.study = self.open_study(sweep_dir, space)
        done_before = self.counted(study)
        log.info(
            "n_trials=%d counts the study's trials in total (%d so far): this search runs the %d missing "
            "(hydra-optuna-sweeper would run %d more)",
            n_trials,
            done_before,
            max(0, n_trials - done_before),
            n_trials,
        )
        returns, told, failed = [], 0, 0
        while True:
            if self.retry_interrupted:
                studies.recover(study, legacy_running_are_dead=False)
            remaining = n_trials - self.counted(study)
            if remaining <= 0:
                break
            trials = [self.ask(study, space) for _ in range(min(self.n_jobs, remaining))]
            per_trial = [self.jobs_of(t, fixed) for t in trials]
            batch = [job for jobs in per_trial for job in jobs]
            self.validate_batch_is_legal(batch)
            with studies.Heartbeat(study, trials):
                outcomes = self.launcher.launch(batch, initial_job_idx=trials[0].number)
            it = iter(outcomes)
            for trial, jobs in zip(trials, per_trial):
                ok = self.tell(study, trial, [next(it) for _ in jobs])
                told += 1
                failed += not ok
            returns.append(outcomes)
            results.write_results(study, sweep_dir, self.directions, metric)
            if failed / told > self.max_failure_rate:
                self.stop_on_failures(failed, told, outcomes, batch, sweep_dir)
        results.write_results(study, sweep_dir, self.directions, metric)
        self.log_best(study, metric)
        return returns

    def stop_on_failures(self, failed: int, told: int, outcomes: list, batch: list, sweep_dir: Path) -> None:
        """Stop the search: our summary line, then the failing job's own exception (as the official plugin:
        stderr ends with it); a job that returned None/NaN has no exception: its status.json error is named."""
        summary = (
            f"{failed} of {told} trials failed, more than max_failure_rate={self.max_failure_rate}: the search"
            " stops (hydra.sweeper.max_failure_rate=1.0 carries on)"
        )
        log.error(summary)
        for result in outcomes:
            result.return_value  # noqa: B018 (re-raises a failed job's exception, with its traceback)
        errors = []
        for job in batch:
            subdir = next((o.split("=", 1)[1] for o in job if o.startswith("hydra.sweep.subdir=")), None)
            status = results.job_error(sweep_dir / subdir) if subdir else None
            if status:
                errors.append(f"job {subdir}: {status}")
        raise RuntimeError(errors[0] if errors else summary)

    def log_best(self, study: optuna.Study, metric: Any) -> None:
        if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            log.warning("no trial of the study %r completed", study.study_name)
        elif len(self.directions) == 1:
            best = study.best_trial
            log.info(
                "Best trial %d: %s = %s with %s", best.number, metric or "value", best.value, best.params
            )
        else:
            pareto = study.best_trials
            log.info("%d Pareto-optimal trials (%s):", len(pareto), metric or "values")
            for t in pareto:
                log.info("    trial %d: values %s, params %s", t.number, t.values, t.params)

    def values_of(self, result) -> list[float] | None:
        """The objective values of one job (None: the job failed or returned something unusable)."""
        try:
            value = result.return_value
        except Exception as err:  # the job raised (sweep_continue_on_error=false)
            log.warning("job failed: %s", err)
            return None
        if not isinstance(value, (Sequence, ListConfig)) or isinstance(value, str):
            value = [value]
        try:
            values = [float(v) for v in value]
        except (TypeError, ValueError):
            return None
        if len(values) != len(self.directions) or not all(math.isfinite(v) for v in values):
            return None
        return values

    def tell(self, study: optuna.Study, trial: optuna.Trial, outcomes: list) -> bool:
        """Record one trial: the mean over its jobs (seeds) completes it; any failed job fails it."""
        per_job = [self.values_of(r) for r in outcomes]
        current = study._storage.get_trial(trial._trial_id).state
        if current != TrialState.RUNNING:  # e.g. failed as stale by another worker while it ran
            log.warning(
                "trial %d is already %s in the study; its result is not recorded", trial.number, current.name
            )
            return current == TrialState.COMPLETE
        try:
            if any(v is None for v in per_job):
                log.warning(
                    "trial %d failed (returned %s)",
                    trial.number,
                    [getattr(r, "_return_value", None) for r in outcomes],
                )
                study.tell(trial, state=TrialState.FAIL)
                return False
            if self.seeds is not None:
                seed_values = {str(s): v if len(v) > 1 else v[0] for s, v in zip(self.seeds, per_job)}
                trial.set_user_attr("seed_values", seed_values)
            means = [statistics.fmean(vs) for vs in zip(*per_job)]
            study.tell(trial, means if len(means) > 1 else means[0])
        except RuntimeError as err:  # a grid sampler stops the study once the grid is exhausted
            if "Study.stop" not in str(err):
                raise
        except optuna.exceptions.UpdateFinishedTrialError:
            log.warning("trial %d was finished by another worker meanwhile", trial.number)
        return True
