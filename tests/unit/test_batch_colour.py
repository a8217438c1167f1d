"""Batch-level colour jitter + normalisation (src/data/common/colour_jitter.py, `batch_colour: true`): a function of
(seed, epoch, batch index), it changes the images, and the DataModule applies it to training batches only."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from src.data.common.colour_jitter import jitter_batch
from src.data.common.transforms import IMAGENET_MEAN, IMAGENET_STD
from src.runtime.config.instantiate import build
from tests.conftest import make_cfg


def images(seed: int = 0) -> torch.Tensor:
    return torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


def test_jitter_is_a_function_of_seed_epoch_and_batch():
    x = images()
    a = jitter_batch(x, 0.3, 0.02, IMAGENET_MEAN, IMAGENET_STD, seed=7, epoch=2, batch_index=5)
    b = jitter_batch(x.clone(), 0.3, 0.02, IMAGENET_MEAN, IMAGENET_STD, seed=7, epoch=2, batch_index=5)
    assert torch.equal(a, b)
    for seed, epoch, index in ((8, 2, 5), (7, 3, 5), (7, 2, 6)):
        other = jitter_batch(
            x, 0.3, 0.02, IMAGENET_MEAN, IMAGENET_STD, seed=seed, epoch=epoch, batch_index=index
        )
        assert not torch.allclose(a, other)


def test_jitter_changes_each_image_and_normalises():
    x = images()
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    plain = jitter_batch(x, 0.0, 0.0, IMAGENET_MEAN, IMAGENET_STD, seed=0, epoch=0, batch_index=0)
    assert torch.allclose(plain, (x - mean) / std, atol=1e-6)  # no jitter: normalisation alone
    jittered = jitter_batch(x, 0.3, 0.02, None, None, seed=0, epoch=0, batch_index=0)
    assert jittered.shape == x.shape and 0 <= jittered.min() and jittered.max() <= 1
    change = (jittered - x).abs().flatten(1).mean(1)
    assert (change > 1e-3).all()  # every image of the batch has its own, non-trivial factors
    assert len(set(change.round(decimals=5).tolist())) == len(x)
    hue_only = jitter_batch(x, 0.0, 0.1, None, None, seed=0, epoch=0, batch_index=0)
    grey = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    unclipped = (hue_only > 0) & (hue_only < 1)
    assert not torch.allclose(hue_only, x)
    assert unclipped.float().mean() > 0.5
    # a hue turn keeps the brightness (luma) of each pixel where nothing was clipped
    luma_in, luma_out = (x * grey).sum(1), (hue_only * grey).sum(1)
    assert torch.allclose(luma_in[unclipped.all(1)], luma_out[unclipped.all(1)], atol=1e-4)


def test_datamodule_colours_training_batches_only(tmp_path):
    cfg = make_cfg(tmp_path, ["model=yolo", "data=shapes_det", "data.num_workers=0", "data.batch_size=4"])
    assert cfg.data.batch_colour is True
    dm = build(cfg.data, "data")
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    raw = batch[0]
    assert raw.min() >= 0 and raw.max() <= 1  # the workers leave colour and normalisation to the batch step
    progress = SimpleNamespace(current=SimpleNamespace(ready=3))
    trainer = SimpleNamespace(
        training=True,
        current_epoch=2,
        global_rank=0,
        fit_loop=SimpleNamespace(epoch_loop=SimpleNamespace(batch_progress=progress)),
    )
    dm.trainer = trainer
    torch.manual_seed(11)
    out = dm.on_after_batch_transfer(batch, 0)
    assert out[1] is batch[1] and not torch.allclose(out[0], raw)
    assert torch.equal(out[0], dm.colour_batch(batch, 2, 3, 0, seed=11)[0])  # seed = the run's seed
    trainer.training = False
    assert (
        dm.on_after_batch_transfer(batch, 0) is batch
    )  # validation batches come normalised from the workers
