"""Where the config tree is, for the checks that read it: also from an installed (non-editable) package.

In order: `IMAGELAB_CONF`; the running Hydra app's primary config folder; `conf/` beside the entry
script (`train.py`, `eval.py`, `predict.py` compose from there); `conf/` of the source checkout.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

from src.runtime.errors import ConfigError


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
    candidates = [Path(sys.argv[0]).resolve().parent / "conf", Path(__file__).resolve().parents[2] / "conf"]
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
