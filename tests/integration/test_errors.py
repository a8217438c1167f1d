"""The bad-input contract (docs/errors.md) as tables: every row is one mistake and what the user sees.
(One file over 300 lines: the contract is one table, kept whole so a missing case is easy to see.)

- CONFIG: overrides that compose but cannot work → `validate` raises ConfigError naming the key (exit 2
  in a run), for every model the row applies to. Checked in-process (compose API), no training.
- OVERRIDES: overrides Hydra itself would refuse (unknown group options, misspelled keys) → the entry
  points' `check_overrides` raises ConfigError before Hydra composes.
- DATA: a file fault built in tmp_path → DataError naming the file (and line), before training.
- CLI: a few real `python train.py ...` runs: exit code 2 and exactly one error line, no traceback;
  override errors and `--cfg job` without importing torch, Lightning or Optuna.
"""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from src.errors import ConfigError, DataError
from src.runtime.config.config_check import validate
from src.runtime.config.overrides_check import check_overrides
from tests.conftest import CONF
from tests.tiny_models import MODELS, ROOT, run_cli, run_in_process, tiny

ALL = tuple(MODELS)

# (overrides, models, the key named, a fragment of the message): the trainer, seed, callback and top-level
# checks do not depend on the model (once, on the U-Net); model and data keys on every model
CONFIG = [
    (["trainer.max_epochs=-2"], ("unet",), "trainer.max_epochs", "or -1 for no limit"),
    (["trainer.max_epochs=1.5"], ("unet",), "trainer.max_epochs", "expected an integer"),
    (["trainer.max_epochs=abc"], ("unet",), "trainer.max_epochs", "expected an integer"),
    (["trainer.min_epochs=-1"], ("unet",), "trainer.min_epochs", ">= 0"),
    (["+trainer.max_steps=-5"], ("unet",), "trainer.max_steps", "-1 for no limit"),
    (["trainer.precision=17"], ("unet",), "trainer.precision", "bf16-mixed"),
    (["trainer.devices=abc"], ("unet",), "trainer.devices", "'auto'"),
    (["trainer.devices=0"], ("unet",), "trainer.devices", "count >= 1"),
    (["trainer.accelerator=tpuu"], ("unet",), "trainer.accelerator", "choose one of"),
    (["trainer=gpu"], ("unet",), "trainer.accelerator", "use trainer=cpu"),
    (["trainer=ddp"], ("unet",), "trainer.accelerator", "use trainer=cpu"),
    (["+trainer.max_epoch=3"], ("unet",), "trainer.max_epoch", "did you mean max_epochs"),
    (["seed=abc"], ("unet",), "seed", "an integer"),
    (["seed=1.5"], ("unet",), "seed", "an integer"),
    (["seed=-1"], ("unet",), "seed", "from 0"),
    (["data.image_size=abc"], ALL, "data.image_size", "expected an integer"),
    (["data.image_size=0"], ALL, "data.image_size", "positive"),
    (["data.image_size=-32"], ("unet",), "data.image_size", "positive"),
    (["callbacks.early_stopping.patience=-1"], ("unet",), "callbacks.early_stopping.patience", ">= 0"),
    (["callbacks.early_stopping.patience=abc"], ("unet",), "callbacks.early_stopping.patience", "integer"),
    (
        ["callbacks.model_checkpoint.save_top_k=-2"],
        ("unet",),
        "callbacks.model_checkpoint.save_top_k",
        ">= 0",
    ),
    (["+callbacks.early_stopping.patiense=3"], ("unet",), "callbacks.early_stopping.patiense", "patience"),
    (["model.optim.lr=abc"], ALL, "model.optim.lr", "expected a number"),
    (["+model.optim.lrr=0.1"], ("unet",), "model.optim.lrr", "did you mean lr"),
    (["+foo=1"], ("unet",), "foo", "unknown top-level key"),
    (["+sed=3"], ("unet",), "sed", "did you mean seed"),
    # a tool's key (conf/profile.yaml) is not train.py's
    (["+batch_sizes=[1]"], ("unet",), "batch_sizes", "unknown top-level key"),
    (["+model.net.dpeth=3"], ("unet",), "model.net.dpeth", "did you mean depth"),
    (
        ["+model.loss.margin=0.2"],
        ("unet",),
        "model.loss.margin",
        "unknown key for src.losses.segmentation.CeDice",
    ),
    (
        ["+model.encoder.name=resnet18"],
        ("siamese",),
        "model.encoder.name",
        "unknown key for src.models.backbones.SmallCNN",
    ),
    (["+model.head.backbone.name=resnet18"], ("yolo",), "model.head.backbone.name", "SmallCNN"),
    (["logger=wandb", "logger.wandb.mode=online"], ("unet",), "logger.wandb.mode", "API key"),
]

# (command-line arguments, the key named, a fragment of the message)
OVERRIDES = [
    (["model=unett"], "model", "did you mean unet?"),
    (["data=foo"], "data", "choose one of ['coco'"),
    (["trainer=tpu"], "trainer", "choose one of ['cpu'"),
    (["-m", "model=unet,yolx"], "model", "unknown option 'yolx'"),
    (["callbacks=[default,emaa]"], "callbacks", "unknown option 'emaa'"),
    (["model.net.dpeth=3"], "model.net.dpeth", "did you mean depth?"),
    (["model=siamese", "model.encoder.widht=[8]"], "model.encoder.widht", "did you mean widths"),
    (["trainer.max_epoch=3"], "trainer.max_epoch", "did you mean max_epochs"),
    (["+model.net.depth=3"], "model.net.depth", "set it without `+`"),
    (["trainer.max_steps=100"], "trainer.max_steps", "add it with +trainer.max_steps=100"),
    (["model.net.depth=["], "", "cannot parse"),
    (["hparams_search=unet_optuna", "model.optim.lrr=tag(log, interval(1e-3, 1e-2))"], "model.optim.lrr", "did you mean lr?"),
    (["model=interval(1, 2)"], "model", "not an interval"),
    (["hparams_search=unet_optuna", "model.net.norm=interval(0, 1)"], "model.net.norm", "holds 'batch', not a number"),
]  # fmt: skip


def composed(overrides: list[str]):
    """The train config with `overrides`, as Hydra composes it (the trainer's accelerator untouched)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="train", overrides=overrides, return_hydra_config=True)


@pytest.fixture
def no_gpu_no_wandb_key(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc from `wandb login`


@pytest.mark.parametrize(
    "model, overrides, key, fragment",
    [(m, o, k, f) for o, models, k, f in CONFIG for m in models],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_config_error_names_the_key(no_gpu_no_wandb_key, model, overrides, key, fragment):
    cfg = composed([o for o in tiny(model) if not o.startswith("trainer.accelerator")] + overrides)
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert err.value.key == key, str(err.value)
    assert fragment in err.value.message, str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("model", ALL)
def test_valid_configs_pass(no_gpu_no_wandb_key, model):
    for extra in ([], ["callbacks=[default,ema]", "logger=many", "trainer=ddp_cpu", "seed=0"]):
        validate(composed([*tiny(model), *extra]))


# `_partial_` nodes (optimizers, schedules, networks given as groups): (node, the key named, fragment)
PARTIAL = [
    (
        {"_target_": "torch.optim.AdamW", "_partial_": True, "lr": "abc"},
        "model.optim.lr",
        "expected a number",
    ),
    ({"_target_": "torch.optim.SGD", "_partial_": True, "lr": -0.1}, "model.optim.lr", "positive"),
    ({"_target_": "torch.optim.AdamW", "_partial_": True, "lrr": 0.1}, "model.optim.lrr", "did you mean lr"),
    ({"_target_": "torch.optim.AdamW", "_partial_": True, "betas": 0.9}, "model.optim.betas", "a list"),
]


@pytest.mark.parametrize(
    "node, key, fragment", PARTIAL, ids=[k + str(i) for i, (_, k, _) in enumerate(PARTIAL)]
)
def test_partial_nodes_are_checked_against_their_target(node, key, fragment):
    from omegaconf import OmegaConf

    from src.runtime.config.config_check import check_keys

    check_keys(OmegaConf.create({"_target_": node["_target_"], "_partial_": True, "lr": 0.01}), "ok")
    with pytest.raises(ConfigError) as err:
        check_keys(OmegaConf.create(node), "model.optim")
    assert err.value.key == key and fragment in err.value.message, str(err.value)


# every shipped option must pass the checks (no false alarms): experiments, debug modes, searches, file data
SHIPPED = [
    ["experiment=decoder_depth"],
    ["model=siamese", "experiment=margins"],
    ["model=yolo", "experiment=iou_thresholds"],
    ["debug=fdr"],
    ["debug=overfit"],
    ["hparams_search=unet_optuna"],
    ["hparams_search=siamese_optuna"],
    ["hparams_search=yolo_optuna"],
    ["logger=tensorboard"],
    ["model=yolo11"],
    ["model=yolov1"],
    ["model=yolo", "data=coco", "data.root=/data"],
    ["model=yolo", "data=voc_det", "data.root=/data"],
    ["model=yolo", "data=yolo", "data.root=/data"],
    ["data=mask_folder", "data.root=/data", "data.num_classes=3"],
    ["data=voc_seg", "data.root=/data"],
    ["model=siamese", "data=identity_folder", "data.root=/data"],
    ["model=siamese", "data=lfw", "data.root=/data"],
]


@pytest.mark.parametrize("overrides", SHIPPED, ids=[" ".join(o) for o in SHIPPED])
def test_shipped_options_pass(no_gpu_no_wandb_key, overrides):
    validate(composed(overrides))


@pytest.mark.parametrize("argv, key, fragment", OVERRIDES, ids=[" ".join(a) for a, _, _ in OVERRIDES])
def test_overrides_hydra_would_refuse(argv, key, fragment):
    with pytest.raises(ConfigError) as err:
        check_overrides("train", argv)
    assert err.value.key == key, str(err.value)
    assert fragment in err.value.message, str(err.value)
    assert "\n" not in str(err.value)


def test_valid_overrides_pass():
    check_overrides("train", ["-m", "model=unet,yolo", "model.net.depth=2,3", "+trainer.max_time=null"])
    check_overrides("predict", ["model=yolo", "ckpt_path=x.ckpt", "+source=img.png"])
    # an interval cannot be listed: checked at its lower bound (the documented search command)
    check_overrides("train", ["hparams_search=unet_optuna", "model.optim.lr=tag(log, interval(1e-3, 1e-2))"])
    check_overrides("train", ["hparams_search=unet_optuna", "model.net.depth=int(interval(2, 4))"])


# ---- data files: each builder makes a dataset with one fault and returns (reader call, file, line)
def _mask_folder(root: Path):
    from src.data.segmentation.mask_folder import MaskFolder
    from tests.seg_data_utils import write_mask_folder

    write_mask_folder(root, counts={"train": 4, "val": 2})
    return lambda: MaskFolder(str(root), num_classes=4).dataset("train")


def _truncate(path: Path, keep: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def truncated_jpeg(root: Path):
    read = _mask_folder(root)
    _truncate(root / "train/images/img_001.jpg")
    return read, "train/images/img_001.jpg", None


def truncated_png(root: Path):
    read = _mask_folder(root)
    _truncate(root / "train/images/img_002.png")
    return read, "train/images/img_002.png", None


def empty_image_file(root: Path):
    read = _mask_folder(root)
    (root / "train/images/img_000.png").write_bytes(b"")
    return read, "train/images/img_000.png", None


def empty_mask_folder_split(root: Path):
    read = _mask_folder(root)
    for f in (root / "train/images").iterdir():
        f.unlink()
    return read, "train/images", None


def _det(root: Path, fmt: str):
    from tests.integration.test_detection_data import scenes, write_coco, write_voc, write_yolo

    writer = {"yolo": write_yolo, "coco": write_coco, "voc": write_voc}[fmt]
    return writer(root, scenes(3))


def voc_malformed_xml(root: Path):
    from src.data.detection.voc_det import VocDet

    _det(root, "voc")
    xml = root / "VOCdevkit/VOC2007/Annotations/img001.xml"
    xml.write_text("<annotation>\n  <filename>img001.png</filename>\n  <object><name>circle</name>\n")
    return (
        lambda: VocDet(str(root), classes=["circle", "square", "triangle"]).records("train"),
        "Annotations/img001.xml",
        4,
    )


def voc_repeated_id(root: Path):
    from src.data.detection.voc_det import VocDet

    _det(root, "voc")
    with open(root / "VOCdevkit/VOC2007/ImageSets/Main/train.txt", "a") as f:
        f.write("img000\n")
    return (
        lambda: VocDet(str(root), classes=["circle", "square", "triangle"]).records("train"),
        "ImageSets/Main/train.txt",
        4,
    )


def voc_two_annotations_one_image(root: Path):
    from src.data.detection.voc_det import VocDet

    _det(root, "voc")
    xml = root / "VOCdevkit/VOC2007/Annotations/img001.xml"
    xml.write_text(xml.read_text().replace("img001.png", "img000.png"))
    return (
        lambda: VocDet(str(root), classes=["circle", "square", "triangle"]).records("train"),
        "Annotations/img001.xml",
        None,
    )


def voc_seg_repeated_id(root: Path):
    from src.data.segmentation.voc_seg import VocSeg
    from tests.seg_data_utils import write_voc

    write_voc(root, counts={"train": 3, "val": 2})
    with open(root / "VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt", "a") as f:
        f.write("2012_000000\n")
    return lambda: VocSeg(str(root)).pairs("train"), "ImageSets/Segmentation/train.txt", 4


def coco_duplicate_image_id(root: Path):
    from src.data.detection.coco import CocoDet

    _det(root, "coco")
    ann = root / "annotations/instances_train2017.json"
    data = json.loads(ann.read_text())
    data["images"][1]["id"] = data["images"][0]["id"]
    ann.write_text(json.dumps(data))
    return lambda: CocoDet(str(root)).records("train"), "instances_train2017.json", None


def coco_no_images(root: Path):
    from src.data.detection.coco import CocoDet

    _det(root, "coco")
    ann = root / "annotations/instances_val2017.json"
    ann.write_text(json.dumps({**json.loads(ann.read_text()), "images": [], "annotations": []}))
    return lambda: CocoDet(str(root)).records("val"), "instances_val2017.json", None


def _coco_val_categories(root: Path, change) -> tuple:
    from src.data.detection.coco import CocoDet

    _det(root, "coco")
    ann = root / "annotations/instances_val2017.json"
    data = json.loads(ann.read_text())
    change(data["categories"])
    ann.write_text(json.dumps(data))
    return lambda: CocoDet(str(root)).records("val"), "instances_val2017.json", None


def coco_val_categories_named_the_other_way_round(root: Path):
    def swap(cats):
        cats[0]["name"], cats[1]["name"] = cats[1]["name"], cats[0]["name"]

    return _coco_val_categories(root, swap)


def coco_val_extra_category(root: Path):
    return _coco_val_categories(root, lambda cats: cats.append({"id": 99, "name": "hexagon"}))


def yolo_shared_label_stem(root: Path):
    from src.data.detection.yolo_format import YoloDet

    _det(root, "yolo")
    Image.open(root / "images/train/img000.png").convert("RGB").save(root / "images/train/img000.jpg")
    return lambda: YoloDet(str(root)).records("train"), "images/train/img000", None


def yolo_empty_folder(root: Path):
    from src.data.detection.yolo_format import YoloDet

    _det(root, "yolo")
    shutil.rmtree(root / "images/val")
    (root / "images/val").mkdir()
    return lambda: YoloDet(str(root)).records("val"), "images/val", None


def identity_two_spellings(root: Path):
    from src.data.verification.identity_folder import IdentityFolder

    for person in ("John_Doe", "Jane", "john doe"):
        (root / "train" / person).mkdir(parents=True)
        for k in range(2):
            Image.new("RGB", (8, 8), (k * 50, 0, 0)).save(root / "train" / person / f"{k}.png")
    (root / "val").mkdir()
    return lambda: IdentityFolder(str(root)).dataset("train"), "train/john doe", None


def identity_truncated_jpeg(root: Path):
    from src.data.verification.identity_folder import IdentityFolder

    for person in ("ann", "bob"):
        (root / "train" / person).mkdir(parents=True)
        for k in range(2):
            noise = Image.effect_noise((96, 96), 40 + k).convert("RGB")  # pixels bigger than the header
            noise.save(root / "train" / person / f"{k}.jpg")
    (root / "val").mkdir()
    _truncate(root / "train/bob/1.jpg")
    return lambda: IdentityFolder(str(root)).dataset("train"), "train/bob/1.jpg", None


def lfw_mismatched_pair_of_one_person(root: Path):
    from src.data.verification.lfw import LfwPairs

    (root / "lfw" / "Ann").mkdir(parents=True)
    for k in (1, 2):
        Image.new("RGB", (16, 16), (k * 90, 0, 0)).save(root / "lfw" / "Ann" / f"Ann_{k:04d}.jpg")
    (root / "pairs.txt").write_text("1\nAnn 1 2\nAnn 1 Ann 2\n")
    return lambda: LfwPairs(str(root)).pairs("test"), "pairs.txt", 3


# (builder, a fragment of the message)
DATA = [
    (truncated_jpeg, "no end-of-image marker"),
    (truncated_png, "cannot read the image"),
    (empty_image_file, "0 bytes"),
    (empty_mask_folder_split, "no images"),
    (voc_malformed_xml, "invalid XML"),
    (voc_repeated_id, "listed twice (lines 1 and 4)"),
    (voc_two_annotations_one_image, "already annotated by"),
    (voc_seg_repeated_id, "listed twice"),
    (coco_duplicate_image_id, "image id 1000 is used twice"),
    (coco_no_images, "`images` list is empty"),
    (coco_val_categories_named_the_other_way_round, "instances_train2017.json; the splits must share one"),
    (coco_val_extra_category, "category 'hexagon' (id 99) is not in"),
    (yolo_shared_label_stem, "share the label file"),
    (yolo_empty_folder, "no images"),
    (identity_two_spellings, "same identity as"),
    (identity_truncated_jpeg, "no end-of-image marker"),
    (lfw_mismatched_pair_of_one_person, "names 'Ann' twice"),
]


@pytest.mark.parametrize("build, fragment", DATA, ids=[b.__name__ for b, _ in DATA])
def test_data_error_names_the_file(tmp_path, build, fragment):
    read, file, line = build(tmp_path)
    with pytest.raises(DataError) as err:
        read()
    assert err.value.path.replace("\\", "/").endswith(file) or file in err.value.path, str(err.value)
    assert err.value.line == line, str(err.value)
    assert fragment in err.value.message, str(err.value)
    assert "\n" not in str(err.value)


def test_verify_fast_passes_complete_images(tmp_path):
    _mask_folder(tmp_path)().scan("fast")


# ---- real command lines: exit 2, one line, no traceback
def _error_lines(proc) -> list[str]:
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out[-3000:]
    return [line for line in out.splitlines() if "Config error:" in line or "Data error:" in line]


def _coco_with_duplicate_ids(root: Path) -> Path:
    coco_duplicate_image_id(root)
    return root


# refused before torch and Lightning load (preflight, Hydra, the sweep folder): a real process each; refused
# inside the task: run in this interpreter (a real process's exit 2 from inside a task: test_integrity.py)
CLI = [
    (run_cli, lambda tmp: ["model=unett"], "Config error: model: unknown option 'unett'"),
    (run_cli, lambda tmp: ["model.net.dpeth=3"], "Config error: model.net.dpeth: no such key; did you mean depth?"),
    (run_in_process, lambda tmp: [*tiny("unet"), "+source=x.png", f"hydra.run.dir={tmp}/run"],
     "Config error: source: unknown top-level"),
    (
        run_in_process,
        lambda tmp: ["model=yolo", "data=coco", f"data.root={_coco_with_duplicate_ids(tmp / 'coco')}",
                     "data.num_classes=3", "data.num_workers=0", f"hydra.run.dir={tmp}/run"],
        "instances_train2017.json: image id 1000 is used twice",
    ),
    (
        run_cli,
        lambda tmp: ["-m", *tiny("unet"), "model.net.depth=3", f"hydra.sweep.dir={_finished_sweep(tmp)}"],
        "Config error: hydra.sweep.dir: ",
    ),
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    "run, args, line",
    CLI,
    ids=["group option", "misspelled key", "top-level key", "coco ids", "sweep folder"],
)
def test_cli_exit_2_and_one_line(tmp_path, run, args, line):
    proc = run(args(tmp_path))
    assert proc.returncode == 2, (proc.stdout + proc.stderr)[-3000:]
    lines = _error_lines(proc)
    assert len(lines) == 1 and line in lines[0], lines


# ---- the run folder, resumes and sweep folders: each builder makes the situation in tmp_path and returns
# the call that meets it; the fragment of its one-line refusal, or None where it is handled (no error)
def _host() -> str:
    import socket

    return socket.gethostname()


def lock_of_a_reused_pid(tmp: Path):
    from src.runtime.runs.run_lock import acquire

    (tmp / "run.lock").write_text(f"1 {_host()} 999999999\n")  # pid 1 is alive, but not since then
    return lambda: acquire(tmp)


def lock_of_a_live_run(tmp: Path):
    import os

    from src.runtime.runs.run_lock import _start_time, acquire

    pid = os.getppid()  # a live process whose start time the lock records: the run itself
    (tmp / "run.lock").write_text(f"{pid} {_host()} {_start_time(pid) or ''}\n")
    return lambda: acquire(tmp)


def _resume(saved: list[str], now: list[str]):
    """A run folder trained with tiny unet + `saved`; the call: a resume of it with tiny unet + `now`."""
    from omegaconf import OmegaConf

    from src.runtime.checkpoints.saved_config import check_resume_config

    def build(tmp: Path):
        cfg = composed([*tiny("unet"), *saved])
        (tmp / ".hydra").mkdir()
        OmegaConf.save({k: cfg._get_node(k) for k in cfg if k != "hydra"}, tmp / ".hydra" / "config.yaml")
        return lambda: check_resume_config(tmp, composed([*tiny("unet"), "ckpt_path=last", *now]))

    build.__name__ = f"resume with {' '.join(now)}"
    return build


def _finished_sweep(tmp: Path, overrides=("model.net.depth=1,2",)) -> Path:
    """A sweep folder as a finished sweep leaves it: multirun.yaml (its overrides) and job folders."""
    from omegaconf import OmegaConf

    sweep = tmp / "sweep"
    for job in ("0", "1"):
        (sweep / job).mkdir(parents=True)
        (sweep / job / "status.json").write_text(json.dumps({"status": "ok"}))
    OmegaConf.save({"hydra": {"overrides": {"task": list(overrides)}}}, sweep / "multirun.yaml")
    return sweep


def sweep_with_other_overrides(tmp: Path):
    from src.runtime.runs.sweep_resume import check_sweep_folder

    sweep = _finished_sweep(tmp)
    return lambda: check_sweep_folder(sweep, ["model.net.depth=3,4"])


def sweep_with_the_same_overrides(tmp: Path):
    from src.runtime.runs.sweep_resume import check_sweep_folder

    sweep = _finished_sweep(tmp)
    return lambda: check_sweep_folder(sweep, ["model.net.depth=1,2"])


def eval_of_a_run_given_only_its_checkpoint(tmp: Path):
    """`eval.py ckpt_path=<run>/checkpoints/last.ckpt`: the data config is the run's (COCO, 3 classes)."""
    from omegaconf import OmegaConf

    from src.runtime.checkpoints.checkpoint_check import use_run_data

    trained = composed(["model=yolo", "data=coco", "data.root=/data/coco", "data.num_classes=3"])
    (tmp / ".hydra").mkdir()
    OmegaConf.save({k: trained._get_node(k) for k in trained if k != "hydra"}, tmp / ".hydra" / "config.yaml")
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(
            "eval", [f"ckpt_path={tmp}/checkpoints/last.ckpt", "model=yolo"], return_hydra_config=True
        )

    def call():
        assert use_run_data(cfg, tmp / "checkpoints" / "last.ckpt") == tmp
        assert cfg.data.root == "/data/coco" and cfg.data.num_classes == 3

    return call


def eval_of_a_checkpoint_without_its_run(tmp: Path):
    from types import SimpleNamespace

    from src.pipeline import check_classes

    return lambda: check_classes("x.ckpt", SimpleNamespace(num_classes=3), SimpleNamespace(num_classes=5))


RUNS = [
    (eval_of_a_run_given_only_its_checkpoint, None),
    (eval_of_a_checkpoint_without_its_run, "give data=<its format> data.root=<its folder>"),
    (sweep_with_other_overrides, "was swept with model.net.depth=1,2; now model.net.depth=3,4"),
    (sweep_with_the_same_overrides, None),  # the same command: resumes
    (lock_of_a_reused_pid, None),
    (lock_of_a_live_run, "if no run is writing there, delete"),
    (_resume([], ["data.batch_size=4"]), "data.batch_size=8 (now 4)"),
    (_resume([], ["seed=7"]), "seed=42 (now 7)"),
    (_resume([], ["data.reader.seed=7"]), "data.reader.seed="),
    (_resume([], ["callbacks=[default,ema]"]), "callbacks.ema._target_=<absent>"),
    (_resume([], ["model.optim.lr=0.5"]), "model.optim.lr="),
    (_resume([], ["trainer.max_epochs=9", "logger=tensorboard", "data.num_workers=1"]), None),
    (_resume([], ["callbacks.early_stopping.patience=50", "trainer.log_every_n_steps=1"]), None),
]


@pytest.mark.parametrize("build, fragment", RUNS, ids=[b.__name__ for b, _ in RUNS])
def test_run_folder_cases(tmp_path, build, fragment):
    from src.runtime.runs.run_lock import RunLocked

    call = build(tmp_path)
    if fragment is None:
        call()
        return
    with pytest.raises((ConfigError, DataError, RunLocked)) as err:
        call()
    assert fragment in str(err.value) and "\n" not in str(err.value), str(err.value)


# the command line answers at once: Hydra and the config tree only, torch and Lightning when a task runs
NO_TASK = [["model=unett"], ["model.net.dpeth=3"], ["model.optim.lrr=3"], ["--cfg", "job"], ["--help"]]
HEAVY = ("torch", "lightning", "optuna")


def test_command_line_answers_without_the_heavy_stack():
    """Override errors (a misspelled argument of a torch optimizer included), `--cfg job` and `--help` (its
    group listing sped up in help_listing.py) run train.py's entry as a user's command does, in one
    interpreter, and import neither torch, Lightning nor Optuna."""
    code = (
        "import runpy, sys\n"
        f"for argv in {NO_TASK!r}:\n"
        "    sys.argv = ['train.py', *argv]\n"
        "    try:\n"
        "        runpy.run_path('train.py', run_name='__main__')\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print('imported:', sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "model.optim.lrr: no such key; did you mean lr?" in proc.stderr, proc.stderr[-3000:]
    # --help's config groups
    assert "model: pretrain, siamese, unet, yolo, yolo11, yolov1" in proc.stdout, proc.stdout[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "imported: []", proc.stdout[-3000:]


# ---- errors keep their one line across process boundaries
class _BadImages(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        raise DataError("/data/img_3.png", "cannot decode the image (truncated file?)", line=4)


def test_data_error_from_a_worker_keeps_its_type_and_message():
    loader = DataLoader(_BadImages(), num_workers=1)
    with pytest.raises(DataError) as info:
        next(iter(loader))
    assert str(info.value) == "/data/img_3.png:4: cannot decode the image (truncated file?)"
    assert "Traceback" not in str(info.value)


@pytest.mark.parametrize(
    "err",
    [DataError("a.png", "bad", line=3), DataError("b.png", "worse"), ConfigError("model.net.depth", "≥ 1")],
)
def test_user_errors_pickle_with_their_fields(err):
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and str(back) == str(err)
    assert vars(back) == vars(err)
