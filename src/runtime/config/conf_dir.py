"""Where the config tree is, for the checks that read it: also from an installed (non-editable) package.

In order: `IMAGELAB_CONF`; the running Hydra app's primary config folder; `conf/` beside the entry
script (`train.py`, `eval.py`, `predict.py` compose from there); `conf/` of the source checkout.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

from src.errors import ConfigError


def _hydra_conf() -> Path | None:
    try:
        from hydra.core.hydra_config import HydraConfig

        sources = HydraConfig.get().runtime.config_sources
    except (ValueError, ImportError):  # no Hydra app running (tests, pre-flight checks)
        return None
    for source in sources:
        if source.provider == "main" and source.schema == "file":
            return Path(source.path)
    return None


@cache
def _fallback() -> Path:
    candidates = [Path(sys.argv[0]).resolve().parent / "conf", Path(__file__).resolve().parents[3] / "conf"]
    for folder in candidates:
        if (folder / "train.yaml").is_file():
            return folder
    raise ConfigError(
        "conf", f"no config tree at {[str(c) for c in candidates]}: set IMAGELAB_CONF=<path to conf/>"
    )


def conf_dir() -> Path:
    """The `conf/` folder of this run."""
    if os.environ.get("IMAGELAB_CONF"):
        return Path(os.environ["IMAGELAB_CONF"])
    return _hydra_conf() or _fallback()


def group_options(group: str, kind: type) -> list[str]:
    """The options of conf/<group>/ whose `_target_` builds a `kind` (for error messages)."""
    import yaml
    from hydra.utils import get_class

    options = []
    for path in sorted((conf_dir() / group).glob("*.yaml")):
        try:
            target = get_class(yaml.safe_load(path.read_text())["_target_"])
        except Exception:  # not a class option, or a broken file: not one to offer
            continue
        if issubclass(target, kind):
            options.append(path.stem)
    return options
