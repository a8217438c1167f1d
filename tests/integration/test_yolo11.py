"""model=yolo11 (ultralytics, the optional extra `make install` adds): a short training from the yaml,
fine-tuning from the checkpoint it saved with another class count, ultralytics .pt files, freezing,
clear errors, offline settings, and that nothing else in the project imports ultralytics."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
import torch

pytest.importorskip("ultralytics")  # the optional extra (`pip install -e .[yolo11]`; `make install` adds it)

from src.errors import ConfigError
from src.lightning_modules.optim import param_groups
from src.runtime.config.config_check import validate
from src.runtime.config.instantiate import build
from tests.conftest import ROOT, make_cfg, run_train
from tests.detector_yaml import build_detector, build_head
from tests.model_tester import ModelTester

TINY = [
    "model=yolo11",
    "data.reader.num_train=24",
    "data.reader.num_val=8",
    "data.reader.num_test=8",
    "data.batch_size=8",
    "data.num_workers=0",
    "cpu_threads=1",
]


def cls_convs(net) -> list[str]:
    """State-dict names of the last class convolutions of the Detect head (the ones nc shapes)."""
    head = len(net.model) - 1
    return [f"model.{head}.cv3.{i}.2.{p}" for i in range(len(net.stride)) for p in ("weight", "bias")]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A short training from the yaml (2 epochs × 2 batches, 64 px); its run folder."""
    run_dir = tmp_path_factory.mktemp("yolo11_run")
    cfg = make_cfg(
        run_dir,
        [
            *TINY,
            "trainer.max_epochs=2",
            "+trainer.limit_train_batches=2",
            "+trainer.limit_val_batches=1",
            "+trainer.limit_test_batches=1",
            "model.plot_every_n_epochs=1",
        ],
    )
    run_train(cfg)
    return run_dir


@pytest.mark.slow
def test_training_writes_metrics_checkpoint_and_plots(trained):
    metrics = json.loads((trained / "metrics.json").read_text())
    assert {"val/map", "val/map50", "val/map75", "val/loss", "test/map50", "val/ap_circle"} <= set(metrics)
    assert all(0 <= metrics[k] <= 1 for k in ("val/map", "val/map50", "val/map75"))
    assert (trained / "checkpoints" / "last.ckpt").is_file()
    assert (trained / "plots" / "val_predictions.png").is_file()
    state = torch.load(trained / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)[
        "state_dict"
    ]
    ckpt = torch.load(trained / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    # EMA on by default: the averaged weights are the state_dict, the raw ones are kept beside them
    assert any(k.startswith("head.net.model.") for k in state) and "current_model_state" in ckpt
    assert any("WarmupEMAWeightAveraging" in key for key in ckpt["callbacks"])


@pytest.mark.slow
def test_finetune_from_checkpoint_with_another_class_count(trained, tmp_path):
    ckpt = trained / "checkpoints" / "last.ckpt"
    saved = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    model = build_head("yolo11", num_classes=5, image_size=64, weights=str(ckpt))
    # only the class convolutions (3 classes → 5) keep their new init; everything else is the EMA's
    assert sorted(model.reinitialised) == sorted(cls_convs(model.net))
    state = model.net.state_dict()
    for name, value in state.items():
        if name not in model.reinitialised:
            torch.testing.assert_close(value, saved[f"head.net.{name}"])  # the EMA weights
    for i, stride in enumerate(model.net.stride.tolist()):  # ultralytics' class-bias prior, fresh
        bias = state[f"model.{len(model.net.model) - 1}.cv3.{i}.2.bias"]
        assert bias.shape == (5,) and torch.allclose(
            bias, torch.tensor(math.log(5 / 5 / (640 / stride) ** 2))
        )
    # and the whole pipeline fine-tunes on 4-class data from it
    cfg = make_cfg(
        tmp_path,
        [*TINY, f"model.head.weights={ckpt}", "data.num_classes=4", "data.reader.num_shapes=4", "debug=fdr"],
    )
    run_train(cfg)
    assert "val/ap_cross" in json.loads((tmp_path / "metrics.json").read_text())


def test_ultralytics_pt_file_is_accepted(tmp_path):
    source = build_head("yolo11", num_classes=80, image_size=64)
    path = tmp_path / "yolo11n_coco.pt"
    torch.save({"model": source.net.half(), "ema": None, "train_args": {}}, path)  # ultralytics' layout
    model = build_head("yolo11", num_classes=2, image_size=64, weights=str(path))
    # 80 classes widen the whole class branch (cv3) of the n-scale head: all of it, and only it, is new
    head = len(model.net.model) - 1
    assert set(cls_convs(model.net)) <= set(model.reinitialised)
    assert all(k.startswith(f"model.{head}.cv3.") for k in model.reinitialised)
    torch.testing.assert_close(
        model.net.model[head].cv2[0][0].conv.weight, source.net.model[head].cv2[0][0].conv.weight.float()
    )
    torch.testing.assert_close(model.net.model[5].conv.weight, source.net.model[5].conv.weight.float())


def test_freeze_and_optimizer_groups():
    model = build_head("yolo11", num_classes=3, image_size=64, freeze=10)  # the backbone of yolo11.yaml
    for name, p in model.net.named_parameters():
        frozen = any(name.startswith(f"model.{i}.") for i in range(10)) or ".dfl" in name
        assert p.requires_grad != frozen, name
    decay, no_decay = param_groups([model], 1e-4)
    trainable = [p for p in model.net.parameters() if p.requires_grad]
    assert len(decay["params"]) + len(no_decay["params"]) == len(trainable)  # no EMA, no frozen tensors
    assert all(p.ndim >= 2 for p in decay["params"]) and all(p.ndim < 2 for p in no_decay["params"])
    assert no_decay["weight_decay"] == 0.0 and decay["weight_decay"] == 1e-4
    with pytest.raises(ConfigError, match="freeze"):
        build_head("yolo11", num_classes=3, image_size=64, freeze=99)


def test_clear_errors(tmp_path):
    cfg = make_cfg(tmp_path, [*TINY, f"model.head.weights={tmp_path / 'nope.pt'}"])
    with pytest.raises(ConfigError) as err:
        validate(cfg)  # before any data is read
    assert (
        err.value.key == "model.head.weights"
        and "nope.pt" in str(err.value)
        and "no file or run folder at" in str(err.value)
    )
    cfg = make_cfg(tmp_path, [*TINY, "data.image_size=72"])
    with pytest.raises(ConfigError, match="model.image_size"):
        build(cfg.model, "model")
    cfg = make_cfg(tmp_path, [*TINY, "model.head.variant=q"])
    with pytest.raises(ConfigError, match="model.head.variant"):
        build(cfg.model, "model")


def test_missing_ultralytics_names_the_extra(monkeypatch):
    from src.models import yolo11 as y11

    for name in [m for m in sys.modules if m == "ultralytics" or m.startswith("ultralytics.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ultralytics", None)  # import → ImportError
    with pytest.raises(ConfigError, match=r"pip install -e \.\[yolo11\]"):
        y11.ultralytics()


@pytest.mark.slow
def test_offline_settings_and_core_never_imports_ultralytics():
    from src.models.yolo11 import ultralytics

    ultralytics()
    from ultralytics.utils import ONLINE, SETTINGS

    assert os.environ["YOLO_OFFLINE"] == "1" and not ONLINE and not SETTINGS["sync"]
    code = (
        "import sys, src.pipeline, src.predict, src.lightning_modules.detector, src.models.heads.anchor, src.runtime.config.config_check;"
        "assert 'ultralytics' not in sys.modules, 'imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


# ---- the model tests every model passes (tests/model_tester.py) ---------------------------------------------
class TestYolo11(ModelTester):
    model = "yolo11"
    tiny = [o for o in TINY if not o.startswith("model=")]
    val_metrics = ("val/map", "val/map50", "val/precision", "val/recall")
    test_metric = "test/map50"

    def python_build(self):
        """Detector(head=partial(Yolo11Head, ...), ...) from conf/model/yolo11.yaml and its head's YAML."""
        import yaml

        data = yaml.safe_load((ROOT / "conf" / "data" / "shapes_det.yaml").read_text())
        return build_detector("yolo11", data["num_classes"], data["image_size"])
