"""A Detector built in plain Python from the values in conf/model/*.yaml and conf/model/head/*.yaml (no
Hydra): the one source of defaults, for tests that build models by hand."""

from __future__ import annotations

from functools import partial

import yaml
from hydra.utils import get_method

from tests.python_vs_yaml import merge
from tests.tiny_models import ROOT

CONF = ROOT / "conf"
HEADS = {"yolo": "anchor", "yolov1": "v1", "yolo11": "yolo11"}


def model_values(model: str) -> dict:
    """conf/model/<model>.yaml with its `defaults` parent model merged in (the defaults list itself dropped)."""
    values = yaml.safe_load((CONF / "model" / f"{model}.yaml").read_text())
    parents = [d for d in values.pop("defaults", []) if isinstance(d, str) and d != "_self_" and "/" not in d]
    for parent in parents:
        values = merge(model_values(parent), values)
    return values


def head_values(head: str) -> dict:
    """conf/model/head/<head>.yaml with the options its `defaults` picks (the backbone) merged in."""
    values = yaml.safe_load((CONF / "model" / "head" / f"{head}.yaml").read_text())
    for entry in values.pop("defaults", []):
        if isinstance(entry, dict):
            ((group, option),) = entry.items()
            option_file = CONF / "model" / "head" / group / f"{option}.yaml"
            values = merge({group: yaml.safe_load(option_file.read_text())}, values)
    return values


def partials(values: dict) -> dict:
    """Nested `_target_` + `_partial_: true` nodes (a head's backbone) as functools.partial objects."""
    out = {}
    for key, value in values.items():
        if isinstance(value, dict) and "_target_" in value:
            node = dict(value)
            target = get_method(node.pop("_target_"))
            node.pop("_partial_", None)
            value = partial(target, **partials(node))
        out[key] = value
    return out


def build_head(head: str, num_classes: int, image_size, **overrides):
    """A detector head from its YAML values, with `overrides` (e.g. weights=..., freeze=...)."""
    values = partials({**head_values(head), **overrides})
    target = get_method(values.pop("_target_"))
    values.pop("_partial_", None)
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    return target(num_classes=num_classes, image_size=size, **values)


def build_detector(
    model: str = "yolo", num_classes: int = 3, image_size=64, head: dict | None = None, **overrides
):
    """The Detector of `model=<model>` from the YAML values; `head` and `overrides` replace values."""
    from src.lightning_modules.detector import Detector
    from tests.python_vs_yaml import optim_and_schedule

    values = {**model_values(model), **optim_and_schedule(model), **overrides}
    head_cfg = partials({**head_values(HEADS[model]), **(head or {})})
    target = get_method(head_cfg.pop("_target_"))
    head_cfg.pop("_partial_", None)
    values.pop("_target_")
    values.update(num_classes=num_classes, image_size=image_size)
    return Detector(head=partial(target, **head_cfg), **values)
