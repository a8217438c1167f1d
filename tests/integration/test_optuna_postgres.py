"""Two search workers add trials to one Optuna study in a real PostgreSQL server (as SLURM workers would).

The server: IMAGELAB_TEST_POSTGRES_URL, default postgresql+psycopg2://imagelab:imagelab@localhost:5432/imagelab_test
(`.ci/postgres` installs Debian's PostgreSQL, starts it and creates that role and database).
Skipped only when no server answers at that address.
"""

from __future__ import annotations

import os
import uuid

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from tests.integration.test_optuna import search_args
from tests.integration.test_optuna_sweeper import search, two_searches_share_one_study
from tests.tiny_models import CHEAPEST, start_cli

URL = os.environ.get(
    "IMAGELAB_TEST_POSTGRES_URL", "postgresql+psycopg2://imagelab:imagelab@localhost:5432/imagelab_test"
)


def server_reachable(url: str) -> bool:
    try:
        import sqlalchemy

        engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("model", [CHEAPEST])  # the sharing does not depend on the model: once, with training
def test_two_workers_share_one_postgres_study(tmp_path, model):
    if not server_reachable(URL):
        pytest.skip(f"no PostgreSQL server at {URL.split('@')[-1]} (run .ci/postgres to start one)")
    study_name = f"test-{model}-{uuid.uuid4().hex[:8]}"
    n_trials = 4
    shared = [f"hydra.sweeper.storage={URL}", f"hydra.sweeper.study_name={study_name}"]
    workers = []
    for i in range(2):
        sampler = [
            "hydra.sweeper.sampler._target_=optuna.samplers.RandomSampler",
            f"hydra.sweeper.sampler.seed={i}",
        ]
        sampler += shared
        args = search_args(model, tmp_path / f"worker{i}", n_trials, sampler)
        workers.append(start_cli(args, tmp_path / f"worker{i}.log"))
    for i, proc in enumerate(workers):
        assert proc.wait(timeout=600) == 0, (tmp_path / f"worker{i}.log").read_text()[-3000:]
    study = optuna.load_study(study_name=study_name, storage=URL)
    try:
        assert len(study.trials) == n_trials
        assert all(t.state == TrialState.COMPLETE for t in study.trials)
        ran = [
            sorted(int(p.name) for p in (tmp_path / f"worker{i}").iterdir() if p.name.isdigit())
            for i in range(2)
        ]
        assert all(ran), ran  # both workers ran trials...
        assert sorted(ran[0] + ran[1]) == list(range(n_trials))  # ...each trial once, numbered study-wide
        files = [tmp_path / f"worker{i}" / "best_params.yaml" for i in range(2)]
        bests = [yaml.safe_load(f.read_text()) for f in files]
        assert all(b["study_name"] == study_name for b in bests)
        # the worker that finished last saw every trial complete (both may count 4 trials: n_trials also
        # counts the other worker's trial still running, so the written-last file is the one to read)
        last = bests[max(range(2), key=lambda i: files[i].stat().st_mtime_ns)]
        assert last["n_trials"] == n_trials and last["best_value"] == pytest.approx(study.best_value)
    finally:
        optuna.delete_study(study_name=study_name, storage=URL)


@pytest.mark.slow
def test_two_searches_share_one_postgres_study(tmp_path):
    """The cheap task (tests/optuna_task), two workers started together: neither fails the other's trial."""
    if not server_reachable(URL):
        pytest.skip(f"no PostgreSQL server at {URL.split('@')[-1]} (run .ci/postgres to start one)")
    study_name = f"test-share-{uuid.uuid4().hex[:8]}"
    try:
        study = two_searches_share_one_study(tmp_path, URL, study_name)
        assert all("worker" in t.user_attrs for t in study.trials)
    finally:
        optuna.delete_study(study_name=study_name, storage=URL)


@pytest.mark.slow
def test_storage_object_with_heartbeat(tmp_path):
    """`storage` as an RDBStorage config (a heartbeat, a failed-trial callback), as the official plugin takes."""
    if not server_reachable(URL):
        pytest.skip(f"no PostgreSQL server at {URL.split('@')[-1]} (run .ci/postgres to start one)")
    study_name = f"test-object-{uuid.uuid4().hex[:8]}"
    storage = (
        f"{{_target_: optuna.storages.RDBStorage, url: '{URL}', heartbeat_interval: 10,"
        " heartbeat_stale_trial_callback: {_target_: optuna.storages.RetryFailedTrialCallback, max_retry: 2}}"
    )
    try:
        _, study = search(
            tmp_path,
            "sphere",
            [
                f"hydra.sweeper.storage={storage}",
                f"hydra.sweeper.study_name={study_name}",
                "hydra.sweeper.n_trials=3",
            ],
        )
        assert study._storage.get_heartbeat_interval() == 10 and len(study.trials) == 3
    finally:
        optuna.delete_study(study_name=study_name, storage=URL)
