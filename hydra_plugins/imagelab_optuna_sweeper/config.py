"""The sweeper's structured config: `hydra/sweeper=imagelab_optuna` (and `hydra/sweeper=optuna`, the
official plugin's name, so its configs run unchanged; left to the official plugin when it is installed),
plus the `hydra/sweeper/sampler` group.

The keys are those of hydra-optuna-sweeper (same names, same meaning) and ours (`enqueue`, `seeds`,
`retry_interrupted`, `heartbeat_interval`). No `from __future__ import annotations` here: Hydra loads
plugin modules outside `sys.modules`, where dataclasses cannot resolve string annotations.
"""

import importlib.util
import logging
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

# hydra/sweeper/sampler=<name>: the official plugin's options and keys (null = the sampler's own default)
SAMPLERS: dict[str, dict[str, Any]] = {
    "tpe": {
        "_target_": "optuna.samplers.TPESampler",
        "seed": None,
        "consider_prior": None,
        "prior_weight": None,
        "consider_magic_clip": None,
        "consider_endpoints": None,
        "n_startup_trials": 10,
        "n_ei_candidates": 24,
        "multivariate": False,
        "warn_independent_sampling": None,
    },
    "random": {"_target_": "optuna.samplers.RandomSampler", "seed": None},
    "cmaes": {
        "_target_": "optuna.samplers.CmaEsSampler",
        "seed": None,
        "x0": None,
        "sigma0": None,
        "independent_sampler": None,
        "warn_independent_sampling": True,
        "consider_pruned_trials": False,
        "restart_strategy": None,
        "inc_popsize": 2,
        "use_separable_cma": False,
        "source_trials": None,
    },
    "nsgaii": {
        "_target_": "optuna.samplers.NSGAIISampler",
        "seed": None,
        "population_size": 50,
        "mutation_prob": None,
        "crossover_prob": 0.9,
        "swapping_prob": 0.5,
        "constraints_func": None,
    },
    "qmc": {
        "_target_": "optuna.samplers.QMCSampler",
        "seed": None,
        "qmc_type": "sobol",
        "scramble": False,
        "independent_sampler": None,
        "warn_asynchronous_seeding": True,
        "warn_independent_sampling": True,
    },
    "gp": {
        "_target_": "optuna.samplers.GPSampler",
        "seed": None,
        "independent_sampler": None,
        "n_startup_trials": 10,
        "deterministic_objective": False,
        "constraints_func": None,
        "warn_independent_sampling": True,
    },
    # removed in Optuna 4.0: kept as an option so that choosing it says so (MOTPE_REMOVED)
    "motpe": {"_target_": "optuna.samplers.MOTPESampler"},
    # the grid is built from `params` at run time (every search-space entry must be discrete)
    "grid": {"_target_": "optuna.samplers.GridSampler", "_partial_": True, "seed": None},
}

MOTPE_REMOVED = (
    "hydra/sweeper/sampler=motpe: the MOTPE sampler was removed in Optuna 4.0; use hydra/sweeper/sampler=tpe"
    " (TPESampler handles several objectives)"
)


@dataclass
class ImagelabOptunaSweeperConf:
    _target_: str = "hydra_plugins.imagelab_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    # the sweeper builds its sampler / storage itself (a grid needs the search space first)
    _recursive_: bool = False
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}])
    # hydra/sweeper/sampler=tpe|random|cmaes|nsgaii|qmc|gp|grid, or any {_target_: optuna.samplers.X, ...}
    sampler: Any = MISSING  # MISSING: the group's choice (merged before this node) stays
    # maximize | minimize, or a list of them (multi-objective: optimized_metric is then a list of metrics)
    direction: Any = "maximize"
    # null = sqlite:///<sweep folder>/optuna.db; a SQLAlchemy URL; or a storage object
    # ({_target_: optuna.storages.RDBStorage, url: ..., heartbeat_interval: 60})
    storage: Any = None
    # null = the sweep folder's name; workers sharing one study (same storage) must use the same name
    study_name: str | None = None
    # trials in the study in total (all workers together); a resumed search only runs the missing ones
    n_trials: int = 20
    # trials launched at once (a batch for the launcher: joblib / submitit run them in parallel)
    n_jobs: int = 1
    # stop the search (exit 1) when more than this fraction of its trials failed: 0.0 (the official
    # plugin's default) = at the first failed trial; 1.0 = carry on (our hparams_search/ configs)
    max_failure_rate: float = 0.0
    # key -> Hydra sweep syntax (choice, a,b,c, range, interval, int(interval), tag(log|int, ...), shuffle),
    # a fixed value (`key: 5`) or a deletion (`~key: null`)
    params: dict[str, Any] | None = None
    # dotted path of a function (cfg, trial) -> None adding conditional / derived parameters
    custom_search_space: str | None = None
    # parameter sets tried first when the study is new, e.g. [{model.net.depth: 3, model.optim.lr: 0.005}]
    enqueue: list[dict[str, Any]] = field(default_factory=list)
    # null = one job per trial; a list of seeds = one job per seed (`seed=<s>`), the trial's value the mean
    seeds: list[int] | None = None
    # trials left `running` by a dead search (this machine) or a silent worker (heartbeat) are re-queued
    retry_interrupted: bool = True
    # seconds between heartbeats of a running trial (a URL storage); a trial silent for 4× this is stale
    heartbeat_interval: int = 30


@dataclass
class OfficialOptunaSweeperConf(ImagelabOptunaSweeperConf):
    """`hydra/sweeper=optuna`: the official plugin's defaults (minimize, two trials per batch)."""

    direction: Any = "minimize"
    n_jobs: int = 2


OFFICIAL_PLUGIN = "hydra_plugins.hydra_optuna_sweeper"
BOTH_INSTALLED = (
    "hydra-optuna-sweeper is installed too: hydra/sweeper=optuna is the official plugin,"
    " hydra/sweeper=imagelab_optuna is always ours (imagelab's Optuna sweeper)"
)


def official_plugin_installed() -> bool:
    try:
        return importlib.util.find_spec(OFFICIAL_PLUGIN) is not None
    except (ImportError, ValueError):
        return False


def register() -> None:
    """Store our sweeper and samplers. With the official plugin installed, `optuna` is left to it (else
    whichever Hydra scans last would win) and one line says so; `imagelab_optuna` always means ours."""
    cs = ConfigStore.instance()
    cs.store(
        group="hydra/sweeper", name="imagelab_optuna", node=ImagelabOptunaSweeperConf, provider="imagelab"
    )
    if official_plugin_installed():
        logging.getLogger(__name__).warning(BOTH_INSTALLED)
    else:
        cs.store(group="hydra/sweeper", name="optuna", node=OfficialOptunaSweeperConf, provider="imagelab")
    for name, node in SAMPLERS.items():
        cs.store(group="hydra/sweeper/sampler", name=name, node=node, provider="imagelab")


register()
