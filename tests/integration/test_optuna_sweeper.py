"""The Optuna sweeper as a drop-in superset of hydra-optuna-sweeper, key by key, on real Optuna studies.
(One file over 300 lines: one test per key and sweep form of the official plugin, read side by side.)

Most tests run the sweeper in this process on the official plugin's example configs
(tests/optuna_task/conf), with a launcher that calls a Python function instead of training: each
search is a real study in a real SQLite file and takes well under a second. The tests at the end run
`tests/optuna_task/objective.py -m` as a user would (two searches sharing one study, a killed search).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from omegaconf import open_dict
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

import hydra_plugins.imagelab_optuna_sweeper.config  # noqa: F401 (registers hydra/sweeper=optuna)
from hydra_plugins.imagelab_optuna_sweeper import _search_space as search_space

ROOT = Path(__file__).resolve().parents[2]
TASK = ROOT / "tests" / "optuna_task"


def dist(line: str):
    return search_space.distribution_of(OverridesParser.create().parse_overrides([line])[0])


def test_every_sweep_form_maps_as_the_official_plugin():
    assert dist("a=choice(2, 3, 4)") == CategoricalDistribution([2, 3, 4])
    assert dist("a=2,3") == CategoricalDistribution([2, 3])
    assert dist("a=shuffle(a, b)") == CategoricalDistribution(["a", "b"])
    # range: Hydra's values (stop excluded), as Hydra's own sweeps and the official plugin's grid
    assert dist("a=range(1, 4)") == IntDistribution(1, 3)
    assert dist("a=range(2, 8, 2)") == IntDistribution(2, 6, step=2)
    assert dist("a=range(2, 9, 2)") == IntDistribution(2, 8, step=2)
    assert dist("a=range(-5.5, 5.5, step=0.5)") == FloatDistribution(-5.5, 5.0, step=0.5)
    assert dist("a=range(0, 1, step=0.25)") == FloatDistribution(0.0, 0.75, step=0.25)
    assert dist("a=range(0, 1, step=0.3)") == FloatDistribution(0.0, 0.9, step=0.3)
    for line in ("a=range(1, 4)", "a=range(2, 9, 2)", "a=range(0, 1, step=0.25)"):  # = Hydra's own sweep
        parsed = OverridesParser.create().parse_overrides([line])[0]
        assert search_space.grid_of({"a": dist(line)})["a"] == list(parsed.sweep_iterator())
    with pytest.raises(ValueError, match="is empty"):
        dist("a=range(3, 3)")
    assert dist("a=interval(0.1, 1.0)") == FloatDistribution(0.1, 1.0)
    assert dist("a=int(interval(1, 9))") == IntDistribution(1, 9)
    assert dist("a=tag(int, interval(1, 9))") == IntDistribution(1, 9)
    assert dist("a=tag(int, interval(1.5, 4.5))") == IntDistribution(2, 4)  # inside the interval
    assert dist("a=tag(int, log, interval(8, 64))") == IntDistribution(8, 64, log=True)
    assert dist("a=tag(log, interval(1e-4, 1e-2))") == FloatDistribution(1e-4, 1e-2, log=True)
    assert dist("a=5") is None and dist("~a") is None
    with pytest.raises(ValueError, match="a: a log interval needs low > 0"):
        dist("a=tag(log, interval(0, 1))")
    with pytest.raises(ValueError, match="no integer"):
        dist("a=tag(int, interval(1.2, 1.8))")


def test_params_fixed_values_deletions_and_command_line_precedence():
    parser = OverridesParser.create()
    params = {"x": "choice(1, 2)", "y": "interval(0, 1)", "z": 5, "~gone": None, "w": "broken((("}
    lines = search_space.param_lines(params, ["w=choice(a, b)", "y=0.5"], parser)
    space, fixed = search_space.parse(lines, parser)
    assert space == {"x": CategoricalDistribution([1, 2]), "w": CategoricalDistribution(["a", "b"])}
    assert sorted(fixed) == ["y=0.5", "z=5", "~gone"]  # the command line fixed y; w's entry never parsed


# ---- in-process searches ----------------------------------------------------------------------------------


class Ret:
    def __init__(self, value=None, error: Exception | None = None):
        self._return_value, self.error = value, error

    @property
    def return_value(self):
        if self.error is not None:
            raise self.error
        return self._return_value


class FakeLauncher:
    """Runs each job as `fn(overrides as a dict)` in this process; records every job."""

    def __init__(self, fn):
        self.fn, self.jobs = fn, []

    def launch(self, batch, initial_job_idx):
        out = []
        for overrides in batch:
            job = {}
            for line in overrides:
                key, _, value = line.partition("=")
                job[key] = yaml.safe_load(value) if value else None
            self.jobs.append(job)
            try:
                out.append(Ret(self.fn(job)))
            except Exception as err:
                out.append(Ret(error=err))
        return out


def sphere(job):
    return sum(float(job.get(k) or 0) ** 2 for k in ("x", "y", "z", "+w"))


def search(tmp_path: Path, config: str, overrides: list[str], fn=sphere, arguments=(), sweep="sweep"):
    """Compose tests/optuna_task/conf/<config>.yaml + overrides and run its search with `fn` as the task."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(TASK / "conf"), version_base=None):
        cfg = compose(config, overrides=overrides, return_hydra_config=True)
    GlobalHydra.instance().clear()
    with open_dict(cfg):
        cfg.hydra.sweep.dir = str(tmp_path / sweep)
    sweeper = instantiate(cfg.hydra.sweeper).search  # the search behind the thin class Hydra finds
    sweeper.config, sweeper.hydra_context = cfg, SimpleNamespace(config_loader=None)
    sweeper.launcher = FakeLauncher(fn)
    sweeper.validate_batch_is_legal = lambda batch: None
    sweeper.sweep(list(arguments))
    return sweeper, sweeper.study


def read(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_with_the_official_plugin_installed_optuna_is_its_and_one_line_says_so(tmp_path, monkeypatch, caplog):
    import importlib

    from hydra.core.config_store import ConfigStore

    from hydra_plugins.imagelab_optuna_sweeper import config

    def provider(name):
        return ConfigStore.instance().repo["hydra"]["sweeper"][f"{name}.yaml"].provider

    assert provider("optuna") == "imagelab" and not config.official_plugin_installed()
    fake = tmp_path / "hydra_plugins" / "hydra_optuna_sweeper"  # a stand-in for the official package
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        ConfigStore.instance().store(group="hydra/sweeper", name="optuna", node={}, provider="optuna_sweeper")
        with caplog.at_level("WARNING"):
            config.register()  # as Hydra's plugin scan does, after the official plugin's
        assert config.official_plugin_installed()
        assert provider("optuna") == "optuna_sweeper" and provider("imagelab_optuna") == "imagelab"
        [line] = [r.getMessage() for r in caplog.records if "hydra-optuna-sweeper" in r.getMessage()]
        assert (
            "hydra/sweeper=optuna is the official plugin" in line and "imagelab_optuna is always ours" in line
        )
    finally:
        monkeypatch.undo()
        importlib.invalidate_caches()
        config.register()
    assert provider("optuna") == "imagelab"


def test_official_config_runs_unchanged(tmp_path):
    sweeper, study = search(tmp_path, "sphere", ["hydra.sweeper.n_trials=6"])
    assert type(study.sampler).__name__ == "TPESampler" and sweeper.directions == ["minimize"]
    assert len(study.trials) == 6 and all(t.state == TrialState.COMPLETE for t in study.trials)
    for t in study.trials:  # range(-5.5, 5.5, step=0.5): Hydra's values, -5.5 .. 5.0
        assert (
            -5.5 <= t.params["x"] <= 5.0 and (t.params["x"] * 2).is_integer() and t.params["y"] in (-5, 0, 5)
        )
    official = read(tmp_path / "sweep" / "optimization_results.yaml")
    assert list(official) == ["name", "best_params", "best_value"] and official["name"] == "optuna"
    assert (
        official["best_value"]
        == pytest.approx(study.best_value)
        == pytest.approx(min(t.value for t in study.trials))
    )
    assert official["best_params"] == study.best_params
    ours = read(tmp_path / "sweep" / "best_params.yaml")
    assert ours["best_trial"] == study.best_trial.number and ours["n_complete"] == 6


def test_fixed_values_deletions_and_tag_int_interval(tmp_path):
    overrides = [
        "hydra.sweeper.params.x='tag(int, interval(1.5, 4.5))'",
        "hydra.sweeper.params.y='int(interval(0, 3))'",
        "+hydra.sweeper.params.z=7",  # a fixed value among the searched ones
        "hydra.sweeper.n_trials=12",
        "hydra/sweeper/sampler=random",
    ]
    sweeper, study = search(tmp_path, "sphere", overrides, arguments=["~error"])
    jobs = sweeper.launcher.jobs
    assert len(jobs) == 12 and all(j["z"] == 7 and "~error" in j for j in jobs)
    assert {t.params["x"] for t in study.trials} <= {2, 3, 4}
    assert {t.params["y"] for t in study.trials} <= {0, 1, 2, 3}
    assert all(isinstance(t.params["y"], int) for t in study.trials)


@pytest.mark.parametrize("sampler", ["tpe", "random", "cmaes", "nsgaii", "qmc", "gp", "grid"])
def test_sampler_group(tmp_path, sampler):
    if sampler == "cmaes":
        pytest.importorskip("cmaes")  # optuna's CmaEsSampler needs the cmaes package
    params = "{x: 'range(-2, 2)', y: 'choice(0, 1)'}"
    overrides = [
        f"hydra/sweeper/sampler={sampler}",
        f"hydra.sweeper.params={params}",
        "hydra.sweeper.n_trials=4",
    ]
    sweeper, study = search(tmp_path, "sphere", overrides)
    names = {
        "tpe": "TPESampler",
        "random": "RandomSampler",
        "cmaes": "CmaEsSampler",
        "nsgaii": "NSGAIISampler",
        "qmc": "QMCSampler",
        "gp": "GPSampler",
        "grid": "GridSampler",
    }
    assert type(study.sampler).__name__ == names[sampler]
    assert len(study.trials) == 4 and all(t.state == TrialState.COMPLETE for t in study.trials)


def test_removed_motpe_sampler_says_to_use_tpe(tmp_path):
    with pytest.raises(Exception, match="removed in Optuna 4.0; use hydra/sweeper/sampler=tpe"):
        search(tmp_path, "multi", ["hydra/sweeper/sampler=motpe"])
    assert not (tmp_path / "sweep").exists()  # refused before the sweep starts


def test_sampler_by_target(tmp_path):
    overrides = [
        "hydra.sweeper.sampler={_target_: optuna.samplers.RandomSampler, seed: 3}",
        "hydra.sweeper.n_trials=3",
    ]
    _, study = search(tmp_path, "sphere", overrides)
    assert isinstance(study.sampler, optuna.samplers.RandomSampler) and len(study.trials) == 3


def test_grid_ends_cleanly_when_exhausted(tmp_path):
    params = "{x: 'range(0, 3)', y: 'choice(-5, 5)'}"  # 3 × 2 = 6 points; n_trials 20 is capped at 6
    overrides = ["hydra/sweeper/sampler=grid", f"hydra.sweeper.params={params}", "hydra.sweeper.n_trials=20"]
    sweeper, study = search(tmp_path, "sphere", overrides)
    points = sorted((t.params["x"], t.params["y"]) for t in study.trials)
    assert points == [(x, y) for x in (0, 1, 2) for y in (-5, 5)]
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    _, again = search(tmp_path, "sphere", overrides)  # a rerun of an exhausted grid runs nothing
    assert len(again.trials) == 6


def test_grid_range_excludes_its_stop_as_the_official_grid(tmp_path):
    # the official plugin's tests/conf/test_grid.yaml: x choice(-1, 1), y range(-1.0, 1.0, step=1), z foo|bar
    params = "{x: 'choice(-1, 1)', y: 'range(-1.0, 1.0, step=1)'}"
    overrides = [
        "hydra/sweeper/sampler=grid",
        f"hydra.sweeper.params={params}",
        "+hydra.sweeper.params.z='choice(foo, bar)'",
        "hydra.sweeper.n_trials=20",
    ]
    _, study = search(tmp_path, "sphere", overrides, fn=lambda job: job["x"] ** 2 + job["y"] ** 2)
    assert len(study.trials) == 8  # 2 × 2 × 2, as the official plugin: y in {-1, 0}, never 1
    assert {t.params["y"] for t in study.trials} == {-1.0, 0.0}


def test_multi_objective_names_the_pareto_trials(tmp_path):
    def binh_korn(job):
        x, y = job["x"], job["y"]
        return 4 * x**2 + 4 * y**2, (x - 5) ** 2 + (y - 5) ** 2

    sweeper, study = search(tmp_path, "multi", ["hydra.sweeper.n_trials=8"], fn=binh_korn)
    assert study.directions == [optuna.study.StudyDirection.MINIMIZE] * 2
    assert all(t.state == TrialState.COMPLETE and len(t.values) == 2 for t in study.trials)
    official = read(tmp_path / "sweep" / "optimization_results.yaml")
    pareto = {t.number for t in study.best_trials}
    assert official["name"] == "optuna" and len(official["solutions"]) == len(pareto) >= 1
    assert {"params", "values"} == set(official["solutions"][0])
    ours = read(tmp_path / "sweep" / "best_params.yaml")
    assert {b["number"] for b in ours["best_trials"]} == pareto


def test_multi_objective_wrong_arity_fails_the_trial(tmp_path):
    overrides = ["hydra.sweeper.n_trials=2", "hydra.sweeper.max_failure_rate=1.0"]
    _, study = search(tmp_path, "multi", overrides, fn=lambda job: 1.0)
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 2


def test_custom_search_space(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(
        str(TASK)
    )  # `objective.configure`, next to the task script as in a user's project
    sweeper, study = search(tmp_path, "custom", ["hydra.sweeper.n_trials=5"])
    for job, t in zip(sweeper.launcher.jobs, study.trials):
        assert abs(job["z"] - job["x"]) <= 0.5 and 0 <= job["+w"] <= 1  # derived from x; a new key
        assert t.params["z"] == job["z"]


@pytest.mark.parametrize("sweep", ["+w=choice(0, 1)", "+w=interval(0, 1)"])
def test_appended_key_swept_from_the_command_line_keeps_its_plus(tmp_path, sweep):
    sweeper, study = search(tmp_path, "sphere", ["hydra.sweeper.n_trials=3"], arguments=[sweep])
    assert all(t.state == TrialState.COMPLETE and "+w" in t.params for t in study.trials)
    assert all("+w" in job and "w" not in job for job in sweeper.launcher.jobs)
    lines = [f"{k}={v}" for k, v in sweeper.launcher.jobs[0].items() if not k.startswith("hydra.")]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(TASK / "conf"), version_base=None):
        assert compose("sphere", overrides=lines).w == sweeper.launcher.jobs[0]["+w"]  # Hydra adds the key
    GlobalHydra.instance().clear()


def test_no_search_space_runs_n_trials_of_the_config_as_it_is(tmp_path):
    sweeper, study = search(tmp_path, "sphere", ["hydra.sweeper.params=null", "hydra.sweeper.n_trials=3"])
    assert len(study.trials) == 3 and all(
        t.state == TrialState.COMPLETE and not t.params for t in study.trials
    )
    assert [sorted(job) for job in sweeper.launcher.jobs] == [["hydra.sweep.subdir"]] * 3


def test_max_failure_rate(tmp_path):
    def fails_on_positive_x(job):
        if job["x"] > 0:
            raise ValueError("boom")
        return job["x"] ** 2

    params = "{x: 'choice(-1, 1)'}"
    base = [f"hydra.sweeper.params={params}", "hydra.sweeper.n_trials=6", "hydra/sweeper/sampler=random"]
    # 1.0 (our hparams_search configs): carry on, the failures are failed trials
    _, study = search(
        tmp_path, "sphere", [*base, "hydra.sweeper.max_failure_rate=1.0"], fn=fails_on_positive_x
    )
    states = [t.state for t in study.trials]
    assert len(states) == 6 and TrialState.FAIL in states and TrialState.COMPLETE in states
    # 0.0: the first failed trial stops the search with the job's own exception
    with pytest.raises(ValueError, match="boom"):
        search(tmp_path, "sphere", base, fn=fails_on_positive_x, sweep="strict")


def test_max_failure_rate_defaults_to_the_official_plugins_zero():
    from omegaconf import OmegaConf

    from hydra_plugins.imagelab_optuna_sweeper.config import (
        ImagelabOptunaSweeperConf,
        OfficialOptunaSweeperConf,
    )

    for node in (ImagelabOptunaSweeperConf, OfficialOptunaSweeperConf):
        assert OmegaConf.structured(node).max_failure_rate == 0.0


def test_a_trial_returning_nothing_stops_the_search_naming_its_error(tmp_path):
    def writes_its_error(job):  # a training job: the error in status.json, None returned
        folder = tmp_path / "sweep" / str(job["hydra.sweep.subdir"])
        folder.mkdir(parents=True)
        (folder / "status.json").write_text('{"status": "failed", "error": "ConfigError: seed: bad"}')

    with pytest.raises(RuntimeError, match="job 0: ConfigError: seed: bad"):
        search(tmp_path, "sphere", ["hydra.sweeper.n_trials=3"], fn=writes_its_error)


@pytest.mark.slow
def test_failure_rate_stderr_ends_with_the_jobs_exception(tmp_path):
    # the official plugin's test_failure_rate: n_jobs 2, every job raises, max_failure_rate 0.5
    proc = objective(
        [
            f"hydra.sweep.dir={tmp_path}",
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.n_jobs=2",
            "hydra/sweeper/sampler=random",
            "hydra.sweeper.max_failure_rate=0.5",
            "error=true",
        ]
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == "RuntimeError: cfg.error is True", proc.stderr[-2000:]


def test_storage_object_and_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'own.db'}"
    storage = f"{{_target_: optuna.storages.RDBStorage, url: '{url}', heartbeat_interval: 60}}"
    GlobalHydra.instance().clear()
    _, study = search(tmp_path, "sphere", [f"hydra.sweeper.storage={storage}", "hydra.sweeper.n_trials=2"])
    assert len(study.trials) == 2 and study._storage.get_heartbeat_interval() == 60
    _, _ = search(tmp_path, "sphere", [f"hydra.sweeper.storage='{url}'", "hydra.sweeper.n_trials=3"])
    assert len(optuna.load_study(study_name="sphere", storage=url).trials) == 3  # the same study, resumed


def test_seeded_resume_does_not_repeat_parameters(tmp_path):
    params = "{x: 'interval(-5, 5)', y: 'interval(-5, 5)'}"
    base = ["hydra/sweeper/sampler=random", "hydra.sweeper.sampler.seed=0", f"hydra.sweeper.params={params}"]
    search(tmp_path, "sphere", [*base, "hydra.sweeper.n_trials=3"])
    _, study = search(tmp_path, "sphere", [*base, "hydra.sweeper.n_trials=6"])  # resumed: 3 more
    points = [(t.params["x"], t.params["y"]) for t in study.trials]
    assert len(points) == 6 and len(set(points)) == 6


def test_seeds_per_trial_value_is_the_mean(tmp_path):
    def noisy(job):
        return job["x"] + job["seed"]

    params = "{x: 'choice(0, 10)'}"
    overrides = [
        f"hydra.sweeper.params={params}",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.seeds=[1,2,3]",
        "+seed=0",
    ]
    sweeper, study = search(tmp_path, "sphere", overrides, fn=noisy)
    assert len(sweeper.launcher.jobs) == 6
    assert [j["hydra.sweep.subdir"] for j in sweeper.launcher.jobs[:3]] == ["0_seed1", "0_seed2", "0_seed3"]
    for t in study.trials:
        assert t.value == pytest.approx(t.params["x"] + 2) and t.user_attrs["seed_values"] == {
            "1": t.params["x"] + 1,
            "2": t.params["x"] + 2,
            "3": t.params["x"] + 3,
        }


# ---- as a user runs it --------------------------------------------------------------------------------------


def objective(args: list[str], log: Path | None = None, **kwargs):
    cmd = [sys.executable, str(TASK / "objective.py"), "-m", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HYDRA_FULL_ERROR": "1"}
    if log is None:
        return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, **kwargs)
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,  # noqa: SIM115
        start_new_session=True,
    )


def two_searches_share_one_study(tmp_path: Path, url: str, study_name: str, n_trials: int = 6):
    """Two workers, both started at once with different seeds, on one study: both finish, nothing fails."""
    procs = []
    for i in range(2):
        args = [
            f"hydra.sweep.dir={tmp_path / f'worker{i}'}",
            f"hydra.sweeper.storage='{url}'",
            f"hydra.sweeper.study_name={study_name}",
            f"hydra.sweeper.n_trials={n_trials}",
            "hydra/sweeper/sampler=random",
            f"hydra.sweeper.sampler.seed={i}",
            "sleep=1",
        ]
        procs.append(objective(args, log=tmp_path / f"worker{i}.log"))
    for i, proc in enumerate(procs):
        assert proc.wait(timeout=300) == 0, (tmp_path / f"worker{i}.log").read_text()[-3000:]
    study = optuna.load_study(study_name=study_name, storage=url)
    assert len(study.trials) == n_trials
    assert all(t.state == TrialState.COMPLETE for t in study.trials), [t.state for t in study.trials]
    ran = [
        sorted(int(p.name) for p in (tmp_path / f"worker{i}").iterdir() if p.name.isdigit()) for i in range(2)
    ]
    assert all(ran) and sorted(ran[0] + ran[1]) == list(range(n_trials)), ran  # both ran trials, each once
    return study


@pytest.mark.slow
def test_two_searches_share_one_sqlite_study(tmp_path):
    two_searches_share_one_study(tmp_path, f"sqlite:///{tmp_path / 'shared.db'}", "shared")


@pytest.mark.slow
def test_killed_search_resumes_without_a_running_trial(tmp_path):
    sweep = tmp_path / "sweep"
    args = [
        f"hydra.sweep.dir={sweep}",
        "hydra.sweeper.n_trials=3",
        "sleep=2",
        "hydra/sweeper/sampler=random",
        "hydra.sweeper.sampler.seed=0",
    ]
    proc = objective(args, log=tmp_path / "first.log")
    deadline = time.monotonic() + 120
    while not (sweep / "1" / "job.json").is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # killed during trial 1
    proc.wait()
    study = optuna.load_study(study_name="sphere", storage=f"sqlite:///{sweep / 'optuna.db'}")
    assert [t.state for t in study.trials][:2] == [TrialState.COMPLETE, TrialState.RUNNING]
    resumed = objective(args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "this search runs the 2 missing" in resumed.stdout + resumed.stderr
    study = optuna.load_study(study_name="sphere", storage=f"sqlite:///{sweep / 'optuna.db'}")
    states = [t.state for t in study.trials]
    assert TrialState.RUNNING not in states and states.count(TrialState.COMPLETE) == 3
    [dead] = [t for t in study.trials if t.user_attrs.get("interrupted")]
    [again] = [t for t in study.trials if t.user_attrs.get("retry_of") == dead.number]
    assert (
        dead.state == TrialState.FAIL and again.params == dead.params and again.state == TrialState.COMPLETE
    )
