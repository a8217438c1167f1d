"""Checkpoint files checked before any work: complete, of this model, of this width — one line each.

- an empty or truncated file: `ckpt_path: <file> is incomplete ...`;
- another model or another width (eval, predict, and train's `ckpt_path=` resume):
  `ckpt_path: <file> was trained with model=<x> depth=<n>; this config has depth=<m>` — the differing
  config keys, never a state_dict listing;
- `eval.py` / `predict.py`: the model config comes from the checkpoint, so `ckpt_path=` alone is enough;
  keys given on the command line (`model.score_threshold=0.1`) still apply, and one that changes the
  network is refused by the width check. `eval.py` takes the data config from the checkpoint's run
  folder too (its `.hydra/config.yaml`) unless `data=` is given.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf, open_dict

from src.errors import ConfigError
from src.runtime.checkpoints.checkpoint_facts import facts_of, model_choice
from src.runtime.config.weights_check import KEYS as STARTING_WEIGHTS

if TYPE_CHECKING:
    import torch

MAX_KEYS = 6  # differing keys named in one line


def load_checkpoint(path: str | Path, key: str = "ckpt_path") -> dict:
    """The checkpoint dict (weights_only, on the CPU); ConfigError naming the file if it is not complete."""
    import torch  # here, not at the top: `eval.py --help` needs no torch

    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise ConfigError(
            key, f"{path} is empty (0 bytes): the checkpoint is incomplete (an interrupted save?)"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # zip reader, unpickler and EOF errors, each with its own type
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise ConfigError(
            key,
            f"{path} is incomplete or not a checkpoint ({size} bytes; {reason}): truncated by an interrupted save?",
        ) from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise ConfigError(key, f"{path} holds no state_dict: not a Lightning checkpoint of this project")
    return checkpoint


def flat(node, prefix: str = "") -> dict:
    """Nested dicts → {dotted key: value}."""
    if not isinstance(node, dict):
        return {prefix: node}
    out = {}
    for k, v in node.items():
        out.update(flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def described(values: dict, keys: list[str]) -> str:
    shown = [f"{k}={values.get(k, '<absent>')}" for k in keys[:MAX_KEYS]]
    more = f" (+{len(keys) - MAX_KEYS} more)" if len(keys) > MAX_KEYS else ""
    return " ".join(shown) + more


def check_model_name(path, checkpoint: dict, name: str | None) -> None:
    trained = facts_of(checkpoint).get("model_name")
    if trained and name and trained != name:
        raise ConfigError(
            "ckpt_path",
            f"{path} was trained with model={trained}; this config has model={name} "
            f"(drop model={name}, or give model={trained})",
        )


def command_line(cfg: DictConfig) -> list[str]:
    """The overrides given on the command line (Hydra's `overrides.task`), as strings."""
    if "hydra" in cfg:
        return [str(o) for o in OmegaConf.select(cfg, "hydra.overrides.task", default=None) or []]
    try:
        from hydra.core.hydra_config import HydraConfig

        return [str(o) for o in HydraConfig.get().overrides.task]
    except ValueError:
        return []


def given_keys(cfg: DictConfig) -> list[str]:
    """Dotted keys set on the command line (`+model.net.depth=3` → `model.net.depth`)."""
    return [o.split("=", 1)[0].lstrip("+~") for o in command_line(cfg)]


def use_checkpoint_model(cfg: DictConfig, checkpoint: dict, path) -> None:
    """eval/predict: `cfg.model` ← the checkpoint's model config plus the command line's `model.*` keys;
    `data.image_size` ← the trained size unless given. Old checkpoints (no facts) keep `cfg.model`."""
    check_model_name(path, checkpoint, model_choice(cfg))
    facts = facts_of(checkpoint)
    stored = facts.get("model")
    if not stored:
        return
    model = OmegaConf.create(stored)
    current = cfg.get("model")
    if current is not None and current.get("_target_") == model.get("_target_"):
        for key in current:  # keys the model's config gained after this checkpoint was saved: today's values
            if key not in model:
                model[key] = current[key]
    given = given_keys(cfg)
    for key in flat(stored):  # the checkpoint holds the weights: do not read (maybe absent) start files
        if key.rsplit(".", 1)[-1] in STARTING_WEIGHTS and f"model.{key}" not in given:
            OmegaConf.update(model, key, None)
    for key in (k[len("model.") :] for k in given if k.startswith("model.")):
        OmegaConf.update(model, key, OmegaConf.select(cfg.model, key, default=None), force_add=True)
    with open_dict(cfg):
        cfg.model = model
        image_size = facts.get("data", {}).get("image_size")
        data = cfg.get("data")
        if (
            image_size is not None
            and data is not None
            and "image_size" in data
            and "data.image_size" not in given
        ):
            cfg.data.image_size = image_size


def run_folder_of(ckpt: str | Path) -> Path | None:
    """The run folder a checkpoint was saved in (`<run>/checkpoints/x.ckpt`), if it still holds its config."""
    ckpt = Path(ckpt)
    for folder in (ckpt.parent.parent, ckpt.parent):
        if (folder / ".hydra" / "config.yaml").is_file():
            return folder
    return None


def use_run_data(cfg: DictConfig, ckpt: str | Path) -> Path | None:
    """eval: `cfg.data` ← the data config of the checkpoint's run (its `.hydra/config.yaml`), as the model
    comes from the checkpoint, unless the command line picks `data=`; its `data.*` keys still apply.
    Returns the run folder read (None: the command line chose the data, or no run folder is left)."""
    given = [k.replace("/", ".") for k in given_keys(cfg)]
    run = run_folder_of(ckpt)
    if "data" in given or run is None:
        return None
    saved = OmegaConf.load(run / ".hydra" / "config.yaml").get("data")
    if not isinstance(saved, DictConfig):
        return None
    for key in (k[len("data.") :] for k in given if k.startswith("data.")):
        OmegaConf.update(saved, key, OmegaConf.select(cfg.data, key, default=None), force_add=True)
    with open_dict(cfg):
        cfg.data = saved
    return run


def check_fits(path, checkpoint: dict, model: torch.nn.Module, cfg: DictConfig) -> None:
    """Refuse (one line) a checkpoint whose weights do not fit `model`, naming the config keys that differ."""
    check_model_name(path, checkpoint, model_choice(cfg))
    if hasattr(model, "on_load_checkpoint"):
        model.on_load_checkpoint(checkpoint)  # e.g. ArcFace class centres sized from the checkpoint
    saved = checkpoint["state_dict"]
    own = model.state_dict()
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    resized = [k for k in own if k in saved and tuple(own[k].shape) != tuple(saved[k].shape)]
    if not (missing or unexpected or resized):
        return
    facts = facts_of(checkpoint)
    name = facts.get("model_name") or model_choice(cfg) or type(model).__name__
    if facts.get("model"):
        trained = flat(facts["model"])
        current = flat(OmegaConf.to_container(cfg.model, resolve=True))
        differ = sorted(
            k
            for k in set(trained) | set(current)
            if trained.get(k) != current.get(k) and k.rsplit(".", 1)[-1] not in STARTING_WEIGHTS
        )
        if differ:
            raise ConfigError(
                "ckpt_path",
                f"{path} was trained with model={name} {described(trained, differ)}; "
                f"this config has {described(current, differ)}",
            )
    counts = f"{len(resized)} weights of another shape, {len(missing)} missing, {len(unexpected)} unexpected"
    first = resized[0] if resized else (missing or unexpected)[0]
    detail = (
        f"e.g. {first}: checkpoint {list(saved[first].shape)} vs model {list(own[first].shape)}"
        if resized
        else f"e.g. {first}"
    )
    raise ConfigError(
        "ckpt_path",
        f"{path} does not fit this model={name} config ({counts}; {detail}): another width or model?",
    )


def args_with_checkpoint_model(args: list[str]) -> list[str]:
    """Command-line overrides plus `model=<the checkpoint's model>` when `ckpt_path=` names a file and no
    `model=` is given (eval.py / predict.py); a broken checkpoint raises ConfigError here, before Hydra."""
    if any(a.split("=", 1)[0].lstrip("+~") == "model" for a in args):
        return list(args)
    values = [a.split("=", 1)[1] for a in args if a.split("=", 1)[0].lstrip("+") == "ckpt_path" and "=" in a]
    if not values or "," in values[-1] or values[-1] in ("", "last", "null"):
        return list(args)
    path = Path(values[-1]).expanduser()
    if path.is_dir():
        path = path / "checkpoints" / "last.ckpt"
    if not path.is_file():
        return list(args)  # the pipeline names the missing file
    name = facts_of(load_checkpoint(path)).get("model_name")
    return [*args, f"model={name}"] if name else list(args)


def main_with_checkpoint_model(main, config_name: str) -> None:
    """Run a Hydra `main` with `model=` taken from `ckpt_path` (see args_with_checkpoint_model), after the
    overrides are checked (`preflight`: unknown options, misspelled keys)."""
    from src.runtime.runs.entry import preflight

    try:
        sys.argv = [sys.argv[0], *args_with_checkpoint_model(sys.argv[1:])]
    except ConfigError as err:
        print(f"Config error: {err}", file=sys.stderr)
        sys.exit(2)
    preflight(config_name)
    main()
