"""Where a `weights:` value comes from, and loading the matching part of one of our runs.

A `weights` key of an encoder, backbone or network holds one of
- null: random init;
- a local file (.pth/.pt/.safetensors/.bin): a state dict;
- one of our run folders or a `.ckpt` of it: the tensors of that checkpoint whose names end alike and
  whose shapes fit (a Siamese encoder into a detector backbone, a pretraining run into any of them);
- a name: weights through the library's own loader and Hugging Face hub cache (`pretrained`, or a tag).

Name lookups check the cache first (huggingface_hub's `try_to_load_from_cache`, no network), then,
unless HF_HUB_OFFLINE is set, try the library's download; weights neither cached nor downloadable are
one ConfigError line naming the cache folder and the command that fetches them. The run matching is
written here because no library maps one model's state dict into another's sub-module by name suffix.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from src.errors import ConfigError

log = logging.getLogger("imagelab")
FILE_SUFFIXES = (".pth", ".pt", ".safetensors", ".bin")
PRETRAINED = ("pretrained", "imagenet", "true", "True")  # the library's default weights of that model


@dataclass(frozen=True)
class WeightsSource:
    kind: str  # none | file | run | name
    value: str


def weights_source(value, key: str = "weights") -> WeightsSource:
    """Classify a `weights` value; a path-like value that does not exist is one ConfigError line."""
    if value is None or value is False or value == "":
        return WeightsSource("none", "")
    if value is True:
        return WeightsSource("name", "pretrained")
    if not isinstance(value, str):
        raise ConfigError(key, f"expected null, a name, a file or a run folder (got {value!r})")
    path = Path(value).expanduser()
    if path.is_dir() or (path.is_file() and path.suffix == ".ckpt"):
        return WeightsSource("run", str(run_checkpoint(path, key)))
    if path.is_file():
        return WeightsSource("file", str(path))
    if "/" in value or path.suffix in (*FILE_SUFFIXES, ".ckpt"):
        raise ConfigError(
            key,
            f"no file or run folder at {path}: give a local weights file, a run folder or .ckpt of "
            "one of our runs, a pretrained name (pretrained, or a tag), or null (random init)",
        )
    return WeightsSource("name", value)


# ---- from one of our runs -----------------------------------------------------------------------------
def run_checkpoint(path: Path, key: str) -> Path:
    """A run folder's `checkpoints/last.ckpt`, or the .ckpt itself."""
    if path.is_file():
        return path
    last = path / "checkpoints" / "last.ckpt"
    if not last.is_file():
        raise ConfigError(
            key, f"{path} is a folder without checkpoints/last.ckpt: give a run folder or a .ckpt"
        )
    return last


def run_state_dict(ckpt: str | Path, key: str) -> dict[str, torch.Tensor]:
    try:
        checkpoint = torch.load(ckpt, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ConfigError(key, f"cannot read {ckpt} as a checkpoint ({err})") from None
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ConfigError(key, f"{ckpt} is not a checkpoint of one of our runs (no state_dict)")
    return state


def _suffixes(name: str) -> list[tuple[str, str]]:
    """(prefix, suffix) splits of a dotted name at every dot; suffixes of at least two parts."""
    parts = name.split(".")
    return [(".".join(parts[:i]) + "." if i else "", ".".join(parts[i:])) for i in range(len(parts) - 1)]


def match_tensors(own: dict[str, torch.Tensor], state: dict[str, torch.Tensor]):
    """The tensors of `state` that fit `own` under the one (source prefix, own prefix) pair that fits most:
    returns ({own name: tensor}, source prefix, skipped [(source name, shape)])."""
    by_suffix: dict[str, list[str]] = {}
    for name in own:
        for prefix, suffix in _suffixes(name):
            by_suffix.setdefault(suffix, []).append(prefix)
    counts: dict[tuple[str, str], int] = {}
    for name, tensor in state.items():
        for src_prefix, suffix in _suffixes(name):
            for own_prefix in by_suffix.get(suffix, ()):
                if own[own_prefix + suffix].shape == tensor.shape:
                    pair = (src_prefix, own_prefix)
                    counts[pair] = counts.get(pair, 0) + 1
    if not counts:
        return {}, "", []
    # most tensors; among equals, the longest matched names (shortest prefixes)
    src_prefix, own_prefix = max(counts, key=lambda p: (counts[p], -len(p[0]) - len(p[1])))
    loaded, skipped = {}, []
    for name, tensor in state.items():
        if not name.startswith(src_prefix):
            continue
        target = own_prefix + name[len(src_prefix) :]
        if target in own and own[target].shape == tensor.shape:
            loaded[target] = tensor
        elif target in own:
            skipped.append((name, tuple(tensor.shape)))
    return loaded, src_prefix, skipped


def load_from_run(module: nn.Module, ckpt: str | Path, key: str, what: str) -> int:
    """Load the part of our checkpoint `ckpt` that fits `module`; one log line; nothing fits: ConfigError."""
    own = module.state_dict()
    state = run_state_dict(ckpt, key)
    loaded, prefix, skipped = match_tensors(own, state)
    under = sum(1 for name in state if name.startswith(prefix))
    # a part fits when most of the module or most of that part of the checkpoint fits: a few tensors of
    # equal shape under look-alike names (a BatchNorm here and there) are chance, not a matching part
    if len(loaded) < 0.5 * min(len(own), under):
        raise ConfigError(
            key,
            f"no tensor of {ckpt} fits the {what} (another architecture or width?): nothing to load"
            + (f" (only {len(loaded)} of {len(own)} by chance)" if loaded else ""),
        )
    module.load_state_dict(loaded, strict=False)
    fresh = [k for k in own if k not in loaded]
    log.info(
        "weights: %s: %d/%d tensors loaded from %s (%s*); re-initialised: %s; skipped (shape): %s",
        what,
        len(loaded),
        len(own),
        ckpt,
        prefix,
        short_list(fresh),
        short_list([f"{n} {list(s)}" for n, s in skipped]),
    )
    return len(loaded)


def short_list(names: list[str], most: int = 8) -> str:
    if not names:
        return "none"
    more = f" ... (+{len(names) - most})" if len(names) > most else ""
    return ", ".join(names[:most]) + more


# ---- by name, through the Hugging Face hub cache --------------------------------------------------------
def hub_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


@contextlib.contextmanager
def offline_hub():
    """huggingface_hub in offline mode for the block: a cached file is served without any request."""
    from huggingface_hub import constants

    before, constants.HF_HUB_OFFLINE = constants.HF_HUB_OFFLINE, True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def cached_hub_file(repo_id: str, filenames: tuple[str, ...], revision: str | None = None) -> str | None:
    """The first of `filenames` of `repo_id` in the local hub cache, else None (no network)."""
    from huggingface_hub import try_to_load_from_cache

    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=hub_cache_dir(), revision=revision)
        if isinstance(found, str):
            return found
    return None


def not_available(key: str, what: str, repo_id: str, reason: str, local_hint: str) -> ConfigError:
    return ConfigError(
        key,
        f"{what} are not in the Hugging Face cache ({hub_cache_dir()}) and cannot be downloaded ({reason}): "
        f"on a machine with internet run `hf download {repo_id}` (HF_HOME picks the cache folder), "
        f"or {local_hint}",
    )


def hub_file(key: str, what: str, repo_id: str, filenames: tuple[str, ...], revision=None) -> str:
    """A weights file of `repo_id`: from the cache, else downloaded (unless offline); else one line."""
    found = cached_hub_file(repo_id, filenames, revision)
    if found:
        return found
    hint = "set this key to a local file instead (/path/to/model.safetensors)"
    if hub_offline():
        raise not_available(key, what, repo_id, "HF_HUB_OFFLINE is set", hint)
    unreachable = hub_unreachable()
    if unreachable:
        raise not_available(key, what, repo_id, unreachable, hint)
    from huggingface_hub import hf_hub_download

    errors = []
    for filename in filenames:
        try:
            return hf_hub_download(repo_id, filename, revision=revision, cache_dir=hub_cache_dir())
        except Exception as err:  # offline, unknown repo, missing file: the one line says which
            errors.append(f"{type(err).__name__}: {str(err).split('. ')[0][:120]}")
    raise not_available(key, what, repo_id, errors[0], hint)


def hub_unreachable(timeout: float = 3.0, host: str | None = None) -> str | None:
    """Why the hub (or `host`) cannot be reached (no name resolution, no connection within `timeout` s), or None:
    a machine without network learns it in seconds, not after the download's retries."""
    import socket
    import threading
    from urllib.parse import urlparse

    from huggingface_hub import constants

    host = host or urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    result: list = []

    def probe() -> None:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(None)
        except OSError as err:
            result.append(f"{host} unreachable: {err}")

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return result[0] if result else f"{host} unreachable: no answer within {timeout:g} s"


def timm_pretrained(arch: str, weights: str, key: str) -> tuple[str, str, dict]:
    """(timm name with its tag, local weights file, pretrained_cfg) for `weights` = pretrained | a tag |
    <arch>.<tag>, found in the hub cache or downloaded through timm's hub id."""
    import timm

    base = arch.split(".")[0]
    if weights in PRETRAINED:
        name = arch
    elif "." in weights:
        name = weights
        if name.split(".")[0] != base:
            raise ConfigError(key, f"{weights} are weights of {name.split('.')[0]}, but the model is {base}")
    else:
        name = f"{base}.{weights}"
    try:
        cfg = timm.models.get_pretrained_cfg(name)
    except RuntimeError:  # timm: "Invalid pretrained tag"
        cfg = None
    if cfg is None or not (cfg.hf_hub_id or cfg.url or cfg.file):
        tags = timm.list_pretrained(f"{base}.*")
        raise ConfigError(
            key, f"timm has no pretrained weights {name!r}; choose pretrained or one of {tags[:12]}"
        )
    if cfg.tag and "." not in name:
        name = f"{name}.{cfg.tag}"
    if cfg.file:
        return name, str(cfg.file), cfg.to_dict()
    repo_id = cfg.hf_hub_id.split("@")[0]
    revision = cfg.hf_hub_id.split("@")[1] if "@" in cfg.hf_hub_id else None
    filenames = (cfg.hf_hub_filename,) if cfg.hf_hub_filename else ("model.safetensors", "pytorch_model.bin")
    file = hub_file(key, f"timm weights {name}", repo_id, filenames, revision)
    return name, file, cfg.to_dict()


def read_weights_file(path: str) -> dict[str, torch.Tensor]:
    if str(path).endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True)


def log_loaded(what: str, module: nn.Module, file: str, prefix: str = "") -> None:
    """One line: how many of `module`'s tensors a weights file held (the rest kept their fresh init)."""
    held = read_weights_file(file)
    own = [k for k in module.state_dict() if k.startswith(prefix)]
    found = [k for k in own if k[len(prefix) :] in held]
    fresh = [k for k in own if k[len(prefix) :] not in held]
    log.info(
        "weights: %s: %d/%d tensors loaded from %s; re-initialised: %s",
        what,
        len(found),
        len(own),
        file,
        short_list(fresh),
    )


def normalisation_of(pretrained_cfg: dict) -> dict:
    """The mean, std and input size a model's weights were trained with (timm's pretrained_cfg)."""
    return {k: list(pretrained_cfg[k]) for k in ("mean", "std", "input_size") if pretrained_cfg.get(k)}
