"""Random-number-generator state in checkpoints, so a resumed run continues exactly like an uninterrupted one.

Lightning restores weights, optimizer, schedulers, loops and callbacks, but not the global RNGs that
drive shuffling and augmentation: without them a run resumed with `ckpt_path=last` draws different
batches than the run it continues. This callback saves torch / numpy / python RNG states (as tensors,
tuples and ints, so the checkpoint still loads with `weights_only=True`) and restores them.
"""

from __future__ import annotations

import random

import lightning.pytorch as pl
import numpy as np
import torch


class RngStateCheckpoint(pl.Callback):
    def state_dict(self) -> dict:
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        state = {
            "torch": torch.get_rng_state(),
            "numpy": (
                kind,
                torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                int(pos),
                int(has_gauss),
                float(gauss),
            ),
            "python": random.getstate(),
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict) -> None:
        if "torch" in state:
            torch.set_rng_state(state["torch"])
        if "numpy" in state:
            kind, keys, pos, has_gauss, gauss = state["numpy"]
            np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
        if "python" in state:
            version, internal, gauss_next = state["python"]
            random.setstate((version, tuple(internal), gauss_next))
        if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])
