"""The study's storage, and who owns a `running` trial: heartbeats, dead searches, re-queued trials.

Several searches may share one study (one SQLite file, or a PostgreSQL server for workers on several
machines). A trial that is `running` in the storage is only taken for dead when its owner is: a search
on this machine whose process is gone (checked at once), or a worker anywhere whose heartbeat stopped
(Optuna's heartbeat: silent for `grace_period`). Such a trial is failed and its parameters re-queued
(user attribute `retry_of`); a live worker's trial is never touched.
"""

from __future__ import annotations

import inspect
import logging
import os
import random
import socket
import threading
import time
import warnings
from collections.abc import Iterable
from typing import Any

import optuna
from optuna.trial import TrialState

log = logging.getLogger(__name__)

HOST = socket.gethostname()


def owner() -> str:
    """This search's identity, stored on its trials: `<host>:<pid>`."""
    return f"{HOST}:{os.getpid()}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def owner_dead(worker: str | None) -> bool:
    """True when `worker` is a search on this machine whose process has ended."""
    if not worker or ":" not in worker:
        return False
    host, _, pid = worker.rpartition(":")
    return host == HOST and pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid))


def retry(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """Queue a failed trial's parameters again (once; the copy names its original)."""
    study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number}, skip_if_exists=False)
    log.info("trial %d did not finish (its search died): its parameters are queued again", trial.number)


def storage_of(spec: Any, default_url: str, heartbeat_interval: int) -> Any:
    """A storage object from `hydra.sweeper.storage`: a URL (heartbeat on), a config, or an object."""
    from hydra.utils import instantiate
    from omegaconf import DictConfig

    if isinstance(spec, DictConfig) or isinstance(spec, dict):
        return instantiate(spec)
    if spec is not None and not isinstance(spec, str):
        return spec
    url = spec or default_url
    kwargs: dict[str, Any] = {
        "heartbeat_interval": heartbeat_interval,
        "grace_period": 4 * heartbeat_interval,
    }
    name = (
        "heartbeat_stale_trial_callback"
        if "heartbeat_stale_trial_callback" in inspect.signature(optuna.storages.RDBStorage).parameters
        else "failed_trial_callback"
    )
    kwargs[name] = retry
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    for attempt in range(5):
        try:
            with warnings.catch_warnings():  # heartbeat_interval: experimental in Optuna since 2.9
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=engine, **kwargs)
        except Exception as err:  # workers starting together race to create the schema in a new database
            if attempt == 4 or not type(err).__module__.startswith("sqlalchemy"):
                raise
            log.info("storage busy (%s); retrying", type(err).__name__)
            time.sleep(1.0 + random.random() * 2)
    raise AssertionError("unreachable")


def describe(storage: Any) -> str:
    url = getattr(storage, "url", None)
    return url.split("@")[-1] if isinstance(url, str) else type(storage).__name__


def heartbeat_enabled(study: optuna.Study) -> bool:
    from optuna.storages._heartbeat import is_heartbeat_enabled

    return is_heartbeat_enabled(study._storage)


def recover(study: optuna.Study, legacy_running_are_dead: bool) -> int:
    """Fail and re-queue the `running` trials whose search is dead; returns how many."""
    n = 0
    if heartbeat_enabled(study):  # silent workers anywhere (the storage's callback re-queues them)
        before = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
        with warnings.catch_warnings():  # experimental in Optuna, stable since 2.9
            warnings.simplefilter("ignore")
            optuna.storages.fail_stale_trials(study)
        n += len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,))) - before
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get("worker")
        if not (owner_dead(worker) or (worker is None and legacy_running_are_dead)):
            continue
        try:
            study._storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
            study.tell(trial.number, state=TrialState.FAIL)
        except (RuntimeError, ValueError, optuna.exceptions.UpdateFinishedTrialError):
            continue  # another search got there first
        retry(study, trial)
        n += 1
    return n


def retried(trials: Iterable[optuna.trial.FrozenTrial]) -> set[int]:
    """Numbers of the trials that were run again under another number."""
    out = set()
    for t in trials:
        for key in ("retry_of", "failed_trial"):  # ours, and optuna's RetryFailedTrialCallback's
            if key in t.user_attrs:
                out.add(int(t.user_attrs[key]))
    return out


class Heartbeat:
    """Records a heartbeat for the given trials every interval while a batch runs (a daemon thread)."""

    def __init__(self, study: optuna.Study, trials: list[optuna.Trial]):
        self.storage = study._storage
        self.ids = [t._trial_id for t in trials]
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        if heartbeat_enabled(study):
            self.interval = self.storage.get_heartbeat_interval()
            self.beat()
            self.thread = threading.Thread(target=self.run, daemon=True, name="optuna-heartbeat")

    def beat(self) -> None:
        for trial_id in self.ids:
            try:
                self.storage.record_heartbeat(trial_id)
            except Exception as err:  # a database hiccup: the next beat retries
                log.debug("heartbeat failed: %s", err)

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            self.beat()

    def __enter__(self) -> Heartbeat:
        if self.thread is not None:
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
