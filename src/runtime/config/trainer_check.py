"""What the Trainer's type hints cannot say: accelerator names, a GPU that is not there, devices.

Lightning checks these deep inside `Trainer(...)` with multi-line tracebacks; here they become one line
naming the key, before anything is built. Types and ranges of the other keys are checked from the
Trainer's signature (src/runtime/config/value_types.py).
"""

from __future__ import annotations

import re

import torch
from omegaconf import DictConfig, ListConfig

from src.errors import ConfigError

DEVICES_STR = re.compile(r"^(auto|-1|\d+|\d+(,\s*\d+)*,?)$")


def accelerators() -> list[str]:
    from lightning.pytorch.accelerators import AcceleratorRegistry

    return ["auto", "cpu", "gpu", *sorted(set(AcceleratorRegistry.available_accelerators()) - {"cpu"})]


def check_accelerator(value, key: str) -> None:
    if not isinstance(value, str):
        return  # an Accelerator object built from `_target_`
    allowed = accelerators()
    if value not in allowed:
        raise ConfigError(key, f"unknown accelerator {value!r}; choose one of {allowed}")
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if value == "cuda" or (value == "gpu" and not mps):
        if not torch.cuda.is_available():
            raise ConfigError(
                key,
                f"{value!r} needs a CUDA GPU and none is available here; use trainer=cpu (or trainer=ddp_cpu)",
            )
    if value == "mps" and not mps:
        raise ConfigError(key, "'mps' needs an Apple GPU and none is available here; use trainer=cpu")


def check_devices(value, key: str) -> None:
    ok = (
        (isinstance(value, int) and not isinstance(value, bool) and (value >= 1 or value == -1))
        or (isinstance(value, str) and DEVICES_STR.match(value.strip()) is not None)
        or (isinstance(value, ListConfig | list) and all(isinstance(v, int) and v >= 0 for v in value))
    )
    if not ok:
        raise ConfigError(
            key, f"expected a count >= 1, -1 (all), 'auto', or a list of device indices (got {value!r})"
        )


def check_trainer(node: DictConfig, path: str = "trainer") -> None:
    """The accelerator and devices of the `trainer` node (types and ranges are checked elsewhere)."""
    if "accelerator" in node:
        check_accelerator(node.accelerator, f"{path}.accelerator")
    if "devices" in node:
        check_devices(node.devices, f"{path}.devices")
    strategy = node.get("strategy")
    if isinstance(strategy, DictConfig) and "_target_" not in strategy:
        raise ConfigError(f"{path}.strategy", "a strategy mapping needs a `_target_`")
