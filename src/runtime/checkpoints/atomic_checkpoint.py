"""Checkpoints are written whole or not at all: to `<name>.tmp` first, then renamed over `<name>`.

Lightning writes a checkpoint straight to its final name: a full disk (or a kill) mid-write leaves a
truncated `last.ckpt` that looks valid until it is loaded. Here a failed write removes its temporary
file, keeps the previous checkpoint, and raises an OSError naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, path)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise OSError(
                err.errno, f"cannot write the checkpoint: {err.strerror or err}", str(path)
            ) from None  # status.json reports the root cause: this one, with the file
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
