"""The sweeper Hydra finds (`hydra/sweeper=optuna` or `imagelab_optuna`; docs/sweeps-and-scale.md).

Hydra imports every module of `hydra_plugins` whose name does not start with `_` on every command,
`--help`, tab completion and a mistyped override included: this one imports nothing heavy, and the search
(`_search.py`, with Optuna and its database layer) is imported when a sweep starts, as the official
hydra-optuna-sweeper does with its `_impl.py`.
"""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class OptunaSweeper(Sweeper):
    def __init__(self, **config: Any):
        from hydra_plugins.imagelab_optuna_sweeper._search import OptunaSearch

        super().__init__()
        self.search = OptunaSearch(**config)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.search.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        return self.search.sweep(arguments)
