"""Validation of a composed config before any work: keys, types, ranges, required values, pairing.

Hydra refuses overrides of keys that do not exist and unknown group options before this runs (turned
into one line by src/runtime/config/overrides_check.py); this adds what it cannot see: top-level keys and keys
under a `_target_` that nothing reads (`+sed=3`, `+trainer.max_epoch=3`, with the closest valid names),
values of the wrong type or range for the argument they feed (from the targets' signatures: the
models, data modules, Trainer, callbacks, loggers; `_partial_` nodes too), accelerators without their
hardware, `???` values left unset, W&B online without an API key, and a model paired with data of
another task.
"""

from __future__ import annotations

import difflib
import inspect

import yaml
from hydra.utils import get_method
from omegaconf import DictConfig, ListConfig, OmegaConf

from src.errors import ConfigError
from src.runtime.config.conf_dir import conf_dir
from src.runtime.config.trainer_check import check_trainer
from src.runtime.config.value_types import check_value, hints_of
from src.runtime.config.weights_check import check_starting_weights


def target_of(node) -> object | None:
    """The callable a config node instantiates, or None if it has no `_target_`."""
    if isinstance(node, DictConfig) and "_target_" in node:
        try:
            return get_method(node._target_)
        except Exception as err:  # hydra wraps import errors; keep one clear line
            raise ConfigError("_target_", f"cannot import {node._target_!r}: {err}") from None
    return None


def closest(name: str, names) -> list[str]:
    """The valid names closest to a misspelled one (difflib), best first; [] when nothing is close."""
    return difflib.get_close_matches(str(name), [str(n) for n in names], n=3, cutoff=0.6)


def unknown_key(key: str, allowed, what: str = "unknown key") -> ConfigError:
    """`<key>: unknown key; did you mean a, b?` or, with nothing close, the whole list of valid names."""
    near = closest(key.rsplit(".", 1)[-1], allowed)
    if near:
        return ConfigError(key, f"{what}; did you mean {', '.join(near)}?")
    return ConfigError(key, f"{what}; allowed: {sorted(str(a) for a in allowed)}")


def check_keys(node, path: str) -> None:
    """Every key under a `_target_` node must be an argument of that target (recursively), and its value
    must fit the argument's type hint and known range (`_partial_` nodes too)."""
    if isinstance(node, ListConfig):
        for i, item in enumerate(node):
            check_keys(item, f"{path}[{i}]")
        return
    if not isinstance(node, DictConfig):
        return
    target = target_of(node) if "_target_" in node else None
    if target is not None:
        params = inspect.signature(target).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        allowed = [n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
        hints = hints_of(target)
        for key in node:
            name = str(key)
            if name.startswith("_"):
                continue
            if name not in params:
                if takes_any:
                    continue
                raise unknown_key(f"{path}.{name}", allowed, f"unknown key for {node._target_}")
            child = node._get_node(key)
            if child._is_interpolation() or child._is_missing():
                continue  # judged where the value is defined
            value = node[key]
            check_value(f"{path}.{name}", name, value, hints.get(name, inspect.Parameter.empty))
    for key in node:
        if not str(key).startswith("_"):
            check_keys(node._get_node(key), f"{path}.{key}")


def global_package(text: str) -> bool:
    """Whether a config file's leading comments say `# @package _global_` (where Hydra reads them)."""
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            return False
        if "@package _global_" in line:
            return True
    return False


def top_level_keys(entry: str | None = None) -> set[str]:
    """Keys a run config may hold at its top: its entry config's own keys (`entry`: train, eval, a tool;
    every entry config's when unknown), the config groups, and the keys set by `# @package _global_`
    files (experiments, debug modes, searches)."""
    keys = {"hydra"} | {d.name for d in conf_dir().iterdir() if d.is_dir()}
    entries = {f.stem for f in conf_dir().glob("*.yaml")}
    for file in conf_dir().rglob("*.yaml"):
        text = file.read_text()
        own = file.parent == conf_dir() and (entry not in entries or file.stem == entry)
        if own or global_package(text):
            keys |= {k for k in (yaml.safe_load(text) or {}) if k != "defaults"}
    return keys


def config_name(cfg: DictConfig) -> str | None:
    """train / eval / predict: the entry config of this run (None when unknown)."""
    from hydra.core.hydra_config import HydraConfig

    own = OmegaConf.select(cfg, "hydra.job.config_name", default=None)  # a composed cfg names itself
    if own is not None:
        return own
    try:
        return HydraConfig.get().job.config_name  # a real run: the task's cfg has no `hydra` node
    except ValueError:
        return None


# what `predict.py` reads from the request (`+source=<image or folder>`, `+pair=[a,b]`, `+pairs=<file>`, `+scales=[...]`)
PREDICT_REQUEST_KEYS = {"source", "pair", "pairs", "scales"}


def check_top_level(cfg: DictConfig) -> None:
    allowed = top_level_keys(config_name(cfg))
    if config_name(cfg) in ("predict", None):
        allowed |= PREDICT_REQUEST_KEYS
    for key in cfg:
        if key not in allowed:
            raise unknown_key(str(key), allowed, "unknown top-level key")
    seed = cfg.get("seed")
    if seed is not None:
        ok = isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**32
        if not ok:
            raise ConfigError("seed", f"expected an integer from 0 to 2**32-1, or null (got {seed!r})")


def check_wandb(cfg: DictConfig) -> None:
    """`mode: online` needs an API key; without one W&B would stop the run at its first call."""
    from src.runtime.config.wandb_key import has_api_key

    for name, node in (cfg.get("logger") or {}).items():
        if isinstance(node, DictConfig) and "wandb" in str(node.get("_target_", "")):
            if node.get("mode") == "online" and not has_api_key():
                raise ConfigError(
                    f"logger.{name}.mode",
                    "'online' needs a W&B API key (WANDB_API_KEY or `wandb login`) and none is set; "
                    "use mode=offline (or auto) and `wandb sync` later",
                )


def task_of(node: DictConfig, group: str) -> str:
    target = target_of(node)
    task = getattr(target, "task", None)
    if task is None:
        raise ConfigError(f"{group}._target_", f"{node.get('_target_')} declares no `task`")
    return task


def data_options_for(task: str) -> list[str]:
    """Names of the data configs in conf/data whose DataModule serves `task`."""
    names = []
    for file in sorted((conf_dir() / "data").glob("*.yaml")):
        target = (yaml.safe_load(file.read_text()) or {}).get("_target_")
        try:
            if target and getattr(get_method(target), "task", None) == task:
                names.append(file.stem)
        except Exception:
            continue
    return names


def missing_keys(node, path: str) -> list[str]:
    """Dotted keys left at `???` under `node`; interpolations are skipped (their target is reported)."""
    if isinstance(node, DictConfig | ListConfig):
        if node._is_missing():
            return [path]
        keys = range(len(node)) if isinstance(node, ListConfig) else node.keys()
        found = []
        for key in keys:
            sub = f"{path}[{key}]" if isinstance(node, ListConfig) else f"{path}.{key}"
            found += missing_keys(node._get_node(key), sub)
        return found
    return [path] if node._is_missing() and not node._is_interpolation() else []


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError on the first problem found in the composed config."""
    missing = []
    for key in cfg:
        if key != "hydra":
            missing += missing_keys(cfg._get_node(key), str(key))
    missing.sort()
    if missing:
        raise ConfigError(
            missing[0], f"is required but not set (give it on the command line: {missing[0]}=...)"
        )
    check_top_level(cfg)
    for group in ("model", "data"):
        if cfg.get(group) is None:
            raise ConfigError(group, f"no config chosen; pick one with `{group}=<name>`")
    for group in ("model", "data", "trainer", "callbacks", "logger"):
        if cfg.get(group) is None:
            continue
        try:
            check_keys(cfg[group], group)
        except ConfigError as err:
            raise err if err.key.startswith(group) else err.under(group) from None
    if cfg.get("trainer") is not None:
        check_trainer(cfg.trainer)
    check_wandb(cfg)
    model_task, data_task = task_of(cfg.model, "model"), task_of(cfg.data, "data")
    if model_task != data_task:
        choices = data_options_for(model_task)
        raise ConfigError(
            "data",
            f"the model is a {model_task} model but the data is {data_task} data; choose data from {choices}",
        )
    check_starting_weights(cfg.model)  # a name is found in the library's cache (or fetched) before any data
