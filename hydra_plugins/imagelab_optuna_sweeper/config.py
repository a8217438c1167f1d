"""The sweeper's structured config, registered as `hydra/sweeper=imagelab_optuna`.

No `from __future__ import annotations` here: Hydra loads plugin modules outside `sys.modules`,
where dataclasses cannot resolve string annotations.
"""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class ImagelabOptunaSweeperConf:
    _target_: str = "hydra_plugins.imagelab_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    # maximize | minimize: what to do with the value train() returns (`optimized_metric`, = model.monitor)
    direction: str = "maximize"
    # trials in the study in total (all workers together); a resumed search only runs the missing ones
    n_trials: int = 20
    # trials launched at once (a batch for the launcher: joblib / submitit run them in parallel)
    n_jobs: int = 1
    # null = sqlite:///<sweep folder>/optuna.db; or any SQLAlchemy URL, e.g. postgresql+psycopg2://user:pw@host/db
    storage: str | None = None
    # null = the sweep folder's name; workers sharing one study (same storage) must use the same name
    study_name: str | None = None
    # an optuna sampler, e.g. {_target_: optuna.samplers.TPESampler, seed: 0}; null = TPE
    sampler: dict[str, Any] | None = None
    # search space: key -> Hydra sweep syntax: choice(2,3,4) | range(2,5) | interval(0.1,1) | tag(int, interval(8,64)) | tag(log, interval(1e-4,1e-2))
    params: dict[str, str] = field(default_factory=dict)
    # parameter sets tried first when the study is new, e.g. [{model.net.depth: 3, model.optim.lr: 0.005}] (a baseline)
    enqueue: list[dict[str, Any]] = field(default_factory=list)
    # on an SQLite study, trials left `running` by a killed search are marked failed and re-queued
    retry_interrupted: bool = True


ConfigStore.instance().store(
    group="hydra/sweeper", name="imagelab_optuna", node=ImagelabOptunaSweeperConf, provider="imagelab"
)
