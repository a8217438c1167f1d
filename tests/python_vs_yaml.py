"""One source of defaults: a module built in Python from the YAML's values equals the one Hydra builds.

`yaml_values("unet")` reads conf/model/unet.yaml and the group options its defaults list picks
(conf/model/net/unet.yaml, optim/adamw.yaml, ...) as plain YAML, merged as Hydra merges them (the
model's own keys last), without `_target_`/`_partial_`. A test then calls the constructors in Python
with those values and `assert_python_equals_yaml(name, module)` compares the result with
`build(cfg.model)` of the composed config: class, state_dict keys and shapes, and hyper-parameters.
Reusable for every model (the detector's heads included).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import make_cfg

CONF = Path(__file__).resolve().parents[1] / "conf"
HYDRA_KEYS = ("_target_", "_partial_", "_recursive_", "_convert_")


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in HYDRA_KEYS}
    return node


def yaml_values(model: str, options: dict[str, str] | None = None) -> dict:
    """The model's keys as its YAML files hold them (group options merged in, Hydra's keys left out);
    `options` picks other group options, as `model/net=smp` does on the command line."""
    raw = yaml.safe_load((CONF / "model" / f"{model}.yaml").read_text())
    merged: dict = {}
    raw["defaults"] = raw.get("defaults", [])
    for entry in raw["defaults"]:
        if isinstance(entry, dict):
            ((group, option),) = entry.items()
            if group.startswith("optional "):  # `optional tuned_schedule@schedule: siamese_${model/schedule}`
                folder, package = group.removeprefix("optional ").split("@")
                chosen = (options or {}).get(package) or next(
                    v for e in raw["defaults"] if isinstance(e, dict) for k, v in e.items() if k == package
                )
                file = CONF / "model" / folder / f"{option.replace('${model/' + package + '}', chosen)}.yaml"
                if file.is_file():
                    merged[package] = merge(merged[package], yaml.safe_load(file.read_text()))
            elif not group.startswith(("/", "override")):
                option = (options or {}).get(group, option)
                merged[group] = yaml.safe_load((CONF / "model" / group / f"{option}.yaml").read_text())
        elif entry != "_self_":
            merged = merge(merged, yaml_values(entry))  # another model config (yolov1 extends yolo)
    raw.pop("defaults")
    return _strip(merge(merged, raw))


def _plain(value: Any) -> Any:
    """hparams in comparable form: partials as (function, keys), containers recursively."""
    if isinstance(value, partial):
        return (value.func, _plain(value.keywords))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def assert_same_module(built, expected) -> None:
    assert type(built) is type(expected)
    got = {k: tuple(v.shape) for k, v in built.state_dict().items()}
    want = {k: tuple(v.shape) for k, v in expected.state_dict().items()}
    assert got == want
    assert _plain(dict(built.hparams)) == _plain(dict(expected.hparams))
    assert built.monitor == expected.monitor


def assert_python_equals_yaml(model: str, module, tmp_path: Path, overrides: list[str] | None = None) -> None:
    """`module` (built in Python from `yaml_values(model)`) equals Hydra's build of `model=<model>`."""
    from src.runtime.config.instantiate import build

    cfg = make_cfg(tmp_path, [f"model={model}", *(overrides or [])])
    assert_same_module(build(cfg.model, "model"), module)


def optim_and_schedule(model: str) -> dict:
    """{"optim", "schedule"}: the partials conf/model/<model>.yaml picks, for a module built in Python."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.utils import instantiate

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"model={model}"])
    GlobalHydra.instance().clear()
    return {key: instantiate(cfg.model[key]) for key in ("optim", "schedule")}
