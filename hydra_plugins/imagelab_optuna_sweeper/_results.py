"""The search's result files in the sweep folder, rewritten after every batch.

- `optimization_results.yaml`: hydra-optuna-sweeper's format (`name: optuna`, `best_params`, `best_value`;
  multi-objective: `solutions`, the Pareto-optimal trials' `params` and `values`).
- `best_params.yaml`: ours: the study, the trial counts, the best trial (number, value, params, the
  overrides that rerun it); multi-objective: `best_trials`, one entry per Pareto-optimal trial.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState

BEST_FILE = "best_params.yaml"
OFFICIAL_FILE = "optimization_results.yaml"


def fmt(value: Any) -> str:
    """A trial value as a Hydra override value."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value if value.replace("_", "").replace("-", "").replace(".", "").isalnum() else f"'{value}'"
    return "null" if value is None else str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return value


def _params(trial: optuna.trial.FrozenTrial) -> dict:
    return {k: _plain(v) for k, v in trial.params.items()}


def _write(path: Path, record: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(yaml.safe_dump(record, sort_keys=False))
    tmp.replace(path)


def job_error(run_dir: Path) -> str | None:
    """The error a failed job wrote to its status.json (None: no such file, or no error)."""
    try:
        return json.loads((run_dir / "status.json").read_text()).get("error")
    except (OSError, ValueError, AttributeError):
        return None


def write_results(study: optuna.Study, sweep_dir: Path, directions: list[str], metric: Any) -> None:
    trials = study.get_trials(deepcopy=False)
    counts = {
        s.name.lower(): sum(t.state == s for t in trials) for s in (TrialState.COMPLETE, TrialState.FAIL)
    }
    ours: dict[str, Any] = {
        "study_name": study.study_name,
        "direction": directions[0] if len(directions) == 1 else list(directions),
        "metric": metric,
        "n_trials": len(trials),
        **{f"n_{k}": v for k, v in counts.items()},
    }
    official: dict[str, Any] = {"name": "optuna"}
    if counts["complete"] and len(directions) == 1:
        best = study.best_trial
        ours.update(
            best_trial=best.number,
            best_value=float(best.value),
            best_params=_params(best),
            best_overrides=" ".join(f"{k}={fmt(v)}" for k, v in best.params.items()),
        )
        official.update(best_params=_params(best), best_value=float(best.value))
    elif counts["complete"]:
        pareto = sorted(study.best_trials, key=lambda t: t.number)
        ours["best_trials"] = [
            {
                "number": t.number,
                "values": [float(v) for v in t.values],
                "params": _params(t),
                "overrides": " ".join(f"{k}={fmt(v)}" for k, v in t.params.items()),
            }
            for t in pareto
        ]
        official["solutions"] = [
            {"params": _params(t), "values": [float(v) for v in t.values]} for t in pareto
        ]
    _write(sweep_dir / BEST_FILE, ours)
    if len(official) > 1:
        _write(sweep_dir / OFFICIAL_FILE, official)
