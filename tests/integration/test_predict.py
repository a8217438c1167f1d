"""Prediction through Lightning and checkpoints that say which model they are, for the three models.

The session's tiny trained run of each model (`trained_runs`, tests/conftest.py) gives a checkpoint; then:
predict.py builds the Trainer of `trainer:` and batches by `batch_size`; each task's writer output;
eval/predict with only `ckpt_path`; another model / another width / a truncated or empty checkpoint → one
line (exit 2 on the command line).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hydra.core.hydra_config import HydraConfig
from PIL import Image

from src.errors import ConfigError
from src.runtime.checkpoints.checkpoint_check import args_with_checkpoint_model, load_checkpoint
from tests.conftest import ROOT, make_cfg, run_train
from tests.tiny_models import MODELS, run_in_process, tiny
from tests.tool_runs import EPOCHS

SIZES = [(100, 80), (50, 120), (64, 64)]  # (W, H) of the images predicted on
WIDER = {
    "unet": "model.net.depth=3",
    "siamese": "model.reductor.embedding_size=32",
    "yolo": "model.head.neck_channels=32",
}


@pytest.fixture(params=MODELS)
def trained(request, trained_runs):
    """(model name, its last.ckpt) of the session's tiny run of that model (tests/conftest.py)."""
    return request.param, trained_runs[request.param] / "checkpoints" / "last.ckpt"


def images(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for i, size in enumerate(SIZES):
        Image.new("RGB", size, (i * 90, 120, 200)).save(folder / f"{i}.png")
    return folder


def compose(out, args, name="predict"):
    cfg = make_cfg(out, args, name)
    HydraConfig.instance().set_config(cfg)
    return cfg


@pytest.mark.slow
def test_checkpoint_stores_model_config_and_data_facts(trained):
    model, ckpt = trained
    facts = load_checkpoint(ckpt)["imagelab"]
    assert facts["model_name"] == model and facts["model"]["_target_"].startswith("src.lightning_modules.")
    assert facts["data"]["image_size"] in (32, 64) and facts["data"]["in_channels"] == 3
    if model != "siamese":
        assert len(facts["data"]["class_names"]) == facts["model"]["num_classes"]


@pytest.mark.slow
def test_predict_with_only_ckpt_path_batches_on_the_configured_trainer(trained, tmp_path):
    from src.predict import predict

    model, ckpt = trained
    src, out = images(tmp_path / "src"), tmp_path / "pred"
    workers = 1 if model == "unet" else 0  # one model decodes in a loader worker
    args = [f"ckpt_path={ckpt}", f"+source={src}", "batch_size=2", f"num_workers={workers}"]
    if model == "siamese":
        (tmp_path / "pairs.txt").write_text("src/0.png src/1.png\n# a comment\nsrc/1.png,src/2.png\n")
        args.append(f"+pairs={tmp_path / 'pairs.txt'}")
    if model == "yolo":
        args.append("model.score_threshold=0.0")  # an inference key may differ from the checkpoint's
    args = args_with_checkpoint_model(args)
    assert args[-1] == f"model={model}"
    summary = predict(compose(out, args))
    assert (
        summary["accelerator"] == "cpu" and summary["batch_size"] == 2 and summary["num_workers"] == workers
    )
    assert summary["batch_sizes"] == [2, 1] and summary["images"] == 3  # batched, not one at a time
    if model == "unet":
        for i, size in enumerate(SIZES):
            mask = Image.open(out / "predictions" / f"{i}_mask.png")
            assert mask.mode == "P" and mask.size == size and np.asarray(mask).max() < 4
            assert Image.open(out / "predictions" / f"{i}_overlay.png").size == size
        assert set(summary["pixel_fraction"]) == {"background", "circle", "square", "triangle"}
    elif model == "yolo":
        dets = json.loads((out / "detections.json").read_text())
        assert dets and {"image_id", "category_id", "bbox", "score"} <= set(dets[0])
        for d in dets:  # COCO [x, y, w, h] in original pixels
            w, h = SIZES[d["image_id"]]
            x, y, bw, bh = d["bbox"]
            assert 0 <= x and 0 <= y and x + bw <= w + 1e-3 and y + bh <= h + 1e-3
        assert all((out / "predictions" / f"{i}.png").is_file() for i in range(3))
    else:
        saved = np.load(out / "embeddings.npz")
        assert saved["embeddings"].shape == (3, 16) and len(saved["paths"]) == 3
        rows = list(csv.DictReader((out / "pair_scores.csv").open()))
        assert [r["image_b"].rsplit("/", 1)[-1] for r in rows] == ["1.png", "2.png"]
        assert all(r["same"] in ("True", "False") for r in rows)


@pytest.mark.slow
def test_predict_pair_decision_and_precision(trained_runs, tmp_path):
    """The pair decision is verification's: the Siamese run only."""
    from src.predict import predict

    ckpt = trained_runs["siamese"] / "checkpoints" / "last.ckpt"
    src = images(tmp_path / "src")
    args = [f"ckpt_path={ckpt}", f"+pair=[{src / '0.png'},{src / '2.png'}]", "trainer.precision=bf16-mixed"]
    summary = predict(compose(tmp_path / "pred", args_with_checkpoint_model(args)))
    assert summary["precision"] == "bf16-mixed" and summary["images"] == 2
    assert summary["decision"] == ("same" if summary["score"] >= summary["threshold"] else "different")


@pytest.mark.slow
def test_eval_with_only_ckpt_path(trained, tmp_path):
    """`eval.py ckpt_path=<run folder's checkpoint>`: the model from the checkpoint, the data from its run."""
    from omegaconf import OmegaConf

    from src.pipeline import evaluate

    model, ckpt = trained
    run = tmp_path / "run"  # the run folder as Hydra leaves it: .hydra/config.yaml next to checkpoints/
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(ckpt, run / "checkpoints" / "last.ckpt")
    distinct = {"siamese": "data.reader.num_test_pairs"}.get(
        model, "data.reader.num_test"
    )  # a run's own value
    cfg = make_cfg(run, tiny(model, f"{distinct}=12"))
    (run / ".hydra").mkdir()
    OmegaConf.save({k: cfg._get_node(k) for k in cfg if k != "hydra"}, run / ".hydra" / "config.yaml")
    args = args_with_checkpoint_model(
        [f"ckpt_path={run}", "+trainer.limit_test_batches=1", "data.num_workers=0"]
    )
    evaluated = compose(tmp_path / "eval", args, "eval")
    metrics = evaluate(evaluated)
    key = {"unet": "test/miou", "siamese": "test/auroc", "yolo": "test/map50"}[model]
    assert 0 <= metrics[key] <= 1
    assert OmegaConf.select(evaluated, distinct) == 12 and evaluated.data.batch_size == cfg.data.batch_size


def test_eval_of_a_checkpoint_without_its_run_names_the_data_keys():
    from types import SimpleNamespace

    from src.pipeline import check_classes

    with pytest.raises(ConfigError, match="give data=<its format> data.root=<its folder>"):
        check_classes("x.ckpt", SimpleNamespace(num_classes=3), SimpleNamespace(num_classes=5))


@pytest.mark.slow
@pytest.mark.parametrize("entry", ["predict", "eval", "train"])
def test_another_model_or_width_is_one_line(trained, tmp_path, entry):
    from src.pipeline import evaluate
    from src.predict import predict

    model, ckpt = trained
    other = MODELS[(MODELS.index(model) + 1) % len(MODELS)]
    key = WIDER[model].split(".", 1)[1].split("=")[0]
    if entry == "train":  # `train.py ... ckpt_path=` resumes: the whole config must fit
        run, name, base = run_train, "train", [f"ckpt_path={ckpt}"]
        cases = {  # the trained run's own settings (EPOCHS) but for the model or its width
            f"model={model}; this config has model={other}": tiny(other, *EPOCHS),
            f"model={model} {key}=": tiny(model, *EPOCHS, WIDER[model]),
        }
    else:
        run, name = (predict, "predict") if entry == "predict" else (evaluate, "eval")
        base = (
            [f"ckpt_path={ckpt}", f"+source={images(tmp_path / 'src')}"]
            if entry == "predict"
            else [f"ckpt_path={ckpt}"]
        )
        cases = {
            f"model={model}; this config has model={other}": [f"model={other}"],
            f"model={model} {key}=": [f"model={model}", WIDER[model]],
        }
    for message, extra in cases.items():
        with pytest.raises(ConfigError) as info:
            run(compose(tmp_path / "out", [*extra, *base], name))
        text = str(info.value)
        assert (
            text.startswith("ckpt_path: ") and str(ckpt) in text and f"was trained with {message}" in text
        ), text
        assert "\n" not in text and "state_dict" not in text and len(text) < 400


@pytest.mark.slow
def test_truncated_and_empty_checkpoints_are_named_incomplete(trained_runs, tmp_path):
    """Does not depend on the model: once, on the U-Net's checkpoint."""
    from src.pipeline import evaluate

    model = "unet"
    ckpt = trained_runs[model] / "checkpoints" / "last.ckpt"
    data = ckpt.read_bytes()
    empty, cut = tmp_path / "empty.ckpt", tmp_path / "cut.ckpt"
    empty.write_bytes(b"")
    cut.write_bytes(data[: len(data) // 2])
    for bad in (empty, cut):
        with pytest.raises(ConfigError, match="incomplete") as info:
            load_checkpoint(bad)
        assert str(bad) in str(info.value) and "\n" not in str(info.value)
        with pytest.raises(ConfigError, match="incomplete"):  # train's resume
            run_train(compose(tmp_path / "train", [*tiny(model), f"ckpt_path={bad}"], "train"))
        with pytest.raises(ConfigError, match="incomplete"):
            evaluate(compose(tmp_path / "eval", [f"model={model}", f"ckpt_path={bad}"], "eval"))
    assert not (tmp_path / "train" / "checkpoints").exists()  # refused before any work


def cli(script, args):
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [sys.executable, script, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_command_line_exit_2_and_predict_with_only_ckpt_path(trained_runs, tmp_path):
    """One model is enough for the subprocess round trip of predict.py and eval.py."""
    model = "unet"
    ckpt = trained_runs[model] / "checkpoints" / "last.ckpt"
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    for script in ("predict.py", "eval.py"):
        proc = cli(script, [f"ckpt_path={empty}", f"+source={tmp_path}"])
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert (
            proc.returncode == 2 and len(lines) == 1 and "incomplete" in lines[0] and str(empty) in lines[0]
        )
    # train.py's refusal inside its task, in this interpreter (a real process's exit 2: test_integrity.py)
    proc = run_in_process(
        [
            *tiny(model, *EPOCHS, "model.net.depth=3"),
            f"ckpt_path={ckpt}",
            f"hydra.run.dir={tmp_path / 'resume'}",
        ]
    )
    assert proc.returncode == 2 and "was trained with model=unet net.depth=2" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    src = images(tmp_path / "src")
    proc = cli("predict.py", [f"ckpt_path={ckpt}", f"+source={src}", f"hydra.run.dir={tmp_path / 'pred'}"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "pred" / "predictions" / "2_mask.png").is_file()


def test_one_image_helper_reads_every_listed_format_and_names_a_broken_file(tmp_path):
    from src.data.common.image_files import IMAGE_EXTENSIONS, list_images, read_image
    from src.errors import DataError

    for ext in (".png", ".jpg", ".bmp", ".tif", ".webp", ".gif"):
        assert ext in IMAGE_EXTENSIONS
        Image.new("L", (7, 5), 128).save(tmp_path / f"grey{ext}")  # grey: converted to RGB
        image = read_image(tmp_path / f"grey{ext}")
        assert tuple(image.shape) == (3, 5, 7) and str(image.dtype) == "torch.uint8"
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    (tmp_path / ".hidden.png").write_bytes(b"")
    assert len(list_images(tmp_path)) == 7  # hidden files skipped
    with pytest.raises(DataError, match="broken.png: cannot decode image"):
        read_image(tmp_path / "broken.png")


@pytest.mark.slow
def test_yolo11_predicts_and_evaluates_with_only_ckpt_path(tmp_path):
    pytest.importorskip("ultralytics")
    from src.pipeline import evaluate
    from src.predict import predict

    data = [
        "data.reader.num_train=8",
        "data.reader.num_val=4",
        "data.reader.num_test=4",
        "data.num_workers=0",
    ]
    limits = ["trainer.max_epochs=1", "+trainer.limit_train_batches=1", "+trainer.limit_val_batches=1"]
    run_train(make_cfg(tmp_path / "run", ["model=yolo11", *data, "data.batch_size=4", *limits, "test=false"]))
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    src = images(tmp_path / "src")
    args = args_with_checkpoint_model([f"ckpt_path={ckpt}", f"+source={src}", "model.score_threshold=0.0"])
    assert "model=yolo11" in args
    summary = predict(compose(tmp_path / "pred", args))
    assert summary["images"] == 3 and (tmp_path / "pred" / "detections.json").is_file()
    for d in json.loads((tmp_path / "pred" / "detections.json").read_text()):
        w, h = SIZES[d["image_id"]]
        x, y, bw, bh = d["bbox"]
        assert x + bw <= w + 1e-3 and y + bh <= h + 1e-3
    args = args_with_checkpoint_model([f"ckpt_path={ckpt}", *data, "+trainer.limit_test_batches=1"])
    assert 0 <= evaluate(compose(tmp_path / "eval", args, "eval"))["test/map50"] <= 1


@pytest.mark.slow
def test_a_checkpoint_without_facts_predicts_with_the_configured_model_and_data(trained_runs, tmp_path):
    """One model is enough for checkpoints saved before the facts."""
    import torch

    from src.predict import predict

    model = "unet"
    ckpt = trained_runs[model] / "checkpoints" / "last.ckpt"
    old = torch.load(ckpt, map_location="cpu", weights_only=True)
    del old["imagelab"]
    torch.save(old, tmp_path / "old.ckpt")
    args = [*tiny(model)[:3], f"ckpt_path={tmp_path / 'old.ckpt'}", f"+source={images(tmp_path / 'src')}"]
    summary = predict(compose(tmp_path / "pred", args))
    assert summary["images"] == 3 and (tmp_path / "pred" / "predictions" / "1_mask.png").is_file()
    with pytest.raises(
        ConfigError, match="does not fit this model=unet config"
    ):  # no facts: counts the weights
        predict(compose(tmp_path / "pred2", [*args, "model.net.depth=3"]))
