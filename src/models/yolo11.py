"""YOLO11 from ultralytics (the optional extra `pip install -e .[yolo11]`, AGPL-3.0): offline import,
the network from its yaml, weights by asset name / local file / one of our runs, our targets in
ultralytics' batch format, and ultralytics' decoding + NMS.

This is the only module of the project that imports ultralytics, and only when a function here is
called. Before the first import it switches ultralytics offline (no DNS check, no auto-install, no
settings sync), so nothing is fetched behind the user's back: no fonts, AMP-check models or version
checks (we use neither its trainer nor its plotting). The one download is an asset the user names
(`weights=yolo11n.pt`) that is neither a file nor in ultralytics' weights folder.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import ModuleType, SimpleNamespace

import torch
import yaml
from torchvision.ops import box_convert

from src.errors import ConfigError, check_choice
from src.models.weights import hub_unreachable, run_checkpoint

log = logging.getLogger("imagelab")
VARIANTS = ("n", "s", "m", "l", "x")
INSTALL_HINT = "model=yolo11 needs ultralytics, an optional extra (AGPL-3.0): pip install -e .[yolo11]"


def ultralytics() -> ModuleType:
    """Import ultralytics offline and quiet (env set before its first import), with settings sync off."""
    os.environ["YOLO_OFFLINE"] = "1"  # is_online() → False: no DNS probe, no hub, no downloads attempted
    os.environ["YOLO_AUTOINSTALL"] = "false"  # never pip-install a missing requirement
    os.environ.setdefault("YOLO_VERBOSE", "false")  # its own logger at warnings only
    try:
        import ultralytics as ul
        from ultralytics.utils import SETTINGS
    except ImportError as err:
        raise ConfigError("model", f"{INSTALL_HINT} ({err})") from None
    if SETTINGS.get("sync", False):
        SETTINGS.update(sync=False)  # no anonymous usage events
    return ul


def network_yaml(variant: str, yaml_path: str | None = None) -> dict:
    """The model dict of ultralytics' yolo11.yaml (or a local model yaml) at scale `variant`."""
    check_choice(variant, "variant", VARIANTS)
    ul = ultralytics()
    path = Path(ul.__file__).parent / "cfg" / "models" / "11" / "yolo11.yaml"
    if yaml_path:
        path = Path(str(yaml_path)).expanduser()
        if not path.is_file():
            raise ConfigError("yaml", f"no model yaml at {path} (null = ultralytics' yolo11.yaml)")
    cfg = yaml.safe_load(path.read_text())
    if not isinstance(cfg, dict) or "backbone" not in cfg or "head" not in cfg:
        raise ConfigError("yaml", f"{path} is not an ultralytics model yaml (needs backbone: and head:)")
    if cfg.get("scales") and variant not in cfg["scales"]:
        raise ConfigError("variant", f"{variant!r} is not a scale of {path}: {list(cfg['scales'])}")
    cfg["scale"] = variant
    cfg["yaml_file"] = f"yolo11{variant}.yaml" if not yaml_path else str(path)
    return cfg


def build_network(num_classes: int, variant: str, yaml_path: str | None, gains: dict):
    """ultralytics' DetectionModel for `num_classes`, with the loss gains its criterion reads (`args`)."""
    network_cfg = network_yaml(variant, yaml_path)
    from ultralytics.nn.tasks import DetectionModel

    net = DetectionModel(network_cfg, ch=3, nc=num_classes, verbose=False)
    net.args = SimpleNamespace(**gains)
    return net


def detection_criterion(net, tal_topk: int):
    """ultralytics' v8DetectionLoss (task-aligned assignment, BCE classes, CIoU + DFL boxes)."""
    from ultralytics.utils.loss import v8DetectionLoss

    return v8DetectionLoss(net, tal_topk=tal_topk)


def ultralytics_batch(targets: list[dict], image_size: tuple[int, int], device) -> dict[str, torch.Tensor]:
    """Our targets (XYXY boxes in input pixels, labels) → ultralytics' batch: `batch_idx` (M,), `cls`
    (M×1), `bboxes` (M×4 cx, cy, w, h normalised by the input width/height)."""
    h, w = image_size
    boxes = [t["boxes"].as_subclass(torch.Tensor).float().reshape(-1, 4) for t in targets]
    idx = torch.cat([torch.full((len(b),), i, dtype=torch.float32) for i, b in enumerate(boxes)])
    labels = torch.cat([t["labels"].reshape(-1).float().cpu() for t in targets])
    xyxy = torch.cat([b.cpu() for b in boxes])
    xywh = box_convert(xyxy, "xyxy", "cxcywh") / torch.tensor([w, h, w, h], dtype=torch.float32)
    return {"batch_idx": idx.to(device), "cls": labels.view(-1, 1).to(device), "bboxes": xywh.to(device)}


def loss_terms(criterion, out, batch: dict, batch_size: int) -> dict[str, torch.Tensor]:
    """{"loss", "box", "cls", "dfl"} per image (ultralytics' trainer backpropagates loss × batch size)."""
    total, items = criterion(out, batch)
    values = list(items.values()) if isinstance(items, dict) else list(items.reshape(-1))
    terms = {"loss": total.sum() / batch_size}
    terms.update({name: v.detach() for name, v in zip(("box", "cls", "dfl"), values)})
    return terms


def non_max_suppression():
    """ultralytics' NMS function (ultralytics.utils.nms from 8.3.x on, ultralytics.utils.ops before)."""
    try:
        from ultralytics.utils.nms import non_max_suppression as nms
    except ImportError:
        from ultralytics.utils.ops import non_max_suppression as nms
    return nms


def decode(
    out, score_threshold: float, nms_iou: float, max_det: int, multi_label: bool
) -> list[dict[str, torch.Tensor]]:
    """Eval-mode output (B × (4 + C) × anchors: cx, cy, w, h input px, class probabilities) → per image
    {boxes (XYXY input px), scores, labels} after ultralytics' class-wise NMS."""
    pred = out[0] if isinstance(out, list | tuple) else out
    dets = non_max_suppression()(
        pred, conf_thres=score_threshold, iou_thres=nms_iou, max_det=max_det, multi_label=multi_label
    )
    return [{"boxes": d[:, :4], "scores": d[:, 4], "labels": d[:, 5].long()} for d in dets]


# ---- weights ---------------------------------------------------------------------------------------------
def resolve_weights(value: str) -> Path:
    """The weights file `value` names, resolved as ultralytics resolves assets: the file itself (a run
    folder: its checkpoints/last.ckpt), else ultralytics' weights folder, else its download of a known
    asset name into that folder (only when github.com answers); else one ConfigError line."""
    file = Path(str(value)).expanduser()
    if file.is_dir():
        file = run_checkpoint(file, "weights")
    if file.is_file():
        return file
    if "/" in str(value) or file.suffix != ".pt":
        raise ConfigError(
            "weights",
            f"no file at {file}: give an ultralytics asset name (yolo11n.pt), a local .pt, or a run folder "
            "/ .ckpt of model=yolo11",
        )
    ultralytics()
    from ultralytics.utils import SETTINGS
    from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES, attempt_download_asset

    folder = Path(SETTINGS["weights_dir"])
    if (folder / file.name).is_file():
        return folder / file.name
    if file.name not in GITHUB_ASSETS_NAMES:
        raise ConfigError("weights", f"{value} is neither a file, in {folder}, nor an ultralytics asset name")
    reason = hub_unreachable(host="github.com")
    if reason is None:
        os.environ["YOLO_OFFLINE"] = "0"  # ultralytics' own download, for this asset only
        try:
            got = Path(attempt_download_asset(folder / file.name, retry=1))
            if got.is_file():
                return got
            reason = "the download left no file"
        except Exception as err:
            reason = f"{type(err).__name__}: {str(err)[:120]}"
        finally:
            os.environ["YOLO_OFFLINE"] = "1"
    raise ConfigError(
        "weights",
        f"{file.name} is not in ultralytics' weights folder ({folder}) and cannot be downloaded ({reason}): "
        f"on a machine with internet run `yolo settings` to see that folder and put {file.name} there "
        f"(e.g. python -c \"from ultralytics import YOLO; YOLO('{folder / file.name}')\"), or give a local "
        f"file: model.head.weights=/path/to/{file.name}",
    )


def read_weights(path: str) -> dict[str, torch.Tensor]:
    """The network's state dict from `path` (resolve_weights): an ultralytics .pt (EMA if present), a
    Lightning .ckpt of model=yolo11 (its state_dict, the EMA weights when EMA was on), or a state dict."""
    file = resolve_weights(path)
    if file.suffix == ".pt":
        ultralytics()
        from ultralytics.nn.tasks import torch_safe_load  # maps legacy module paths of old .pt files

        try:
            ckpt = torch_safe_load(str(file))[0]
        except Exception as err:
            raise ConfigError("weights", f"cannot read {file} as an ultralytics .pt ({err})") from None
    else:
        try:
            ckpt = torch.load(file, map_location="cpu", weights_only=True)
        except Exception as err:
            raise ConfigError("weights", f"cannot read {file} ({err})") from None
    if isinstance(ckpt, dict) and isinstance(ckpt.get("state_dict"), dict):  # Lightning checkpoint
        state = ckpt["state_dict"]  # the EMA weights when the run had callbacks.ema
        prefixes = ("head.net.", "ema.", "net.")  # ema./net.: checkpoints of earlier versions
        prefix = next((p for p in prefixes if any(k.startswith(p) for k in state)), "head.net.")
        return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if isinstance(ckpt, dict) and (ckpt.get("ema") is not None or ckpt.get("model") is not None):
        module = ckpt.get("ema") or ckpt["model"]  # ultralytics checkpoint: pickled DetectionModel
        return {k: v.float() for k, v in module.state_dict().items()}
    if isinstance(ckpt, dict) and ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        return ckpt
    raise ConfigError(
        "weights", f"{file} holds neither a Lightning checkpoint, an ultralytics model nor a state dict"
    )


def load_matching(net: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> list[str]:
    """Load every tensor whose name and shape match (ultralytics' intersect_dicts); the rest keep their
    fresh init (e.g. the last class convolutions for another class count). Returns the re-initialised names."""
    own = net.state_dict()
    keep = {k: v for k, v in state.items() if k in own and v.shape == own[k].shape}
    if not keep:
        raise ConfigError(
            "weights",
            f"none of the {len(state)} tensors of {source} fits this network (another architecture?)",
        )
    net.load_state_dict(keep, strict=False)
    fresh = [k for k in own if k not in keep]
    log.info(
        "weights: %d/%d tensors from %s; re-initialised: %s", len(keep), len(own), source, fresh or "none"
    )
    return fresh


def freeze_layers(net: torch.nn.Module, n: int) -> int:
    """Stop gradients of the first `n` layers (`model.0.` .. `model.{n-1}.`) and of the fixed DFL
    projection, as ultralytics' trainer does. Returns the number of frozen tensors."""
    prefixes = tuple(f"model.{i}." for i in range(n))
    frozen = 0
    for name, p in net.named_parameters():
        if name.startswith(prefixes) or ".dfl" in name:
            p.requires_grad_(False)
            frozen += 1
    return frozen
