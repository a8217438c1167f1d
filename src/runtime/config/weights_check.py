"""Starting weights checked before any data is read: every `weights` / `encoder_weights` of the model
config (src/models/weights.py says what a value may be) is found, or fetched by the library's own cache
when it is a name, or is one ConfigError line naming the key. The model build then reads the same file."""

from __future__ import annotations

from omegaconf import DictConfig

from src.errors import ConfigError

KEYS = ("weights", "encoder_weights")  # the keys a network starts from (a checkpoint replaces them)


def check_starting_weights(node, path: str = "model") -> None:
    """Walk the model config; each set weights key of a `_target_` node must be available."""
    if not isinstance(node, DictConfig):
        return
    target = str(node.get("_target_") or "")
    for key in KEYS:
        value = node.get(key) if key in node else None
        if value not in (None, False, ""):
            try:
                check_one(target, node, key, value)
            except ConfigError as err:
                raise (err if err.key.startswith(path) else err.under(path)) from None
    for name in node:
        child = node._get_node(name)
        if isinstance(child, DictConfig):
            check_starting_weights(child, f"{path}.{name}")


def check_one(target: str, node: DictConfig, key: str, value) -> None:
    from src.models.weights import timm_pretrained, weights_source

    source = weights_source(value, key)
    if source.kind != "name":
        return  # a file exists / a run folder has its checkpoint: weights_source checked it
    kind = target.rsplit(".", 1)[-1]
    if kind == "TimmBackbone":
        import timm

        if timm.is_model(str(node.name)):  # an unknown name is the build's line (model.encoder.name)
            timm_pretrained(str(node.name), source.value, key)
    elif kind == "build_smp_net":
        from src.models.smp_nets import smp_pretrained

        smp_pretrained(str(node.encoder_name), source.value)
    elif kind == "Yolo11Head":
        from src.models.yolo11 import resolve_weights

        resolve_weights(source.value)
