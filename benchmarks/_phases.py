"""Time spent in each phase of a training step, counted the same way on both sides of a comparison.

The model's own arithmetic (forward + loss, backward, the optimizer's update) and taking a batch from
the loader are wrapped where both the plain loop and Lightning's loop call them (`compute_losses`,
`torch.autograd.backward`, torch's functional adam/sgd, the loader iterator's `__next__`), on a chosen
clock: `time.thread_time` for the training thread's CPU, `time.perf_counter` for wall time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

PHASES = ("forward", "backward", "optimizer", "data")
MODEL_PHASES = ("forward", "backward", "optimizer")  # the model's arithmetic: identical on both sides
SPENT: dict[str, float] = {}  # phase -> seconds of the current run, on the instrumented clock


def counted(phase: str, fn: Callable, clock: Callable[[], float]) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t0 = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[phase] = SPENT.get(phase, 0.0) + clock() - t0

    return wrapper


def instrument(module_class: type, clock: Callable[[], float]) -> None:
    """Count the phases of every run from here on, on `clock` (both sides call the same functions);
    `module_class`: the LightningModule whose `compute_losses` is the forward + loss."""
    import torch
    from torch.optim import adam, sgd
    from torch.utils.data import dataloader

    if not getattr(torch.autograd.backward, "_counted", False):
        torch.autograd.backward = counted("backward", torch.autograd.backward, clock)
        adam.adam = counted("optimizer", adam.adam, clock)  # Adam and AdamW
        sgd.sgd = counted("optimizer", sgd.sgd, clock)
        it = dataloader._BaseDataLoaderIter
        it.__next__ = counted("data", it.__next__, clock)
        torch.autograd.backward._counted = True
    if not getattr(module_class.compute_losses, "_counted", False):
        module_class.compute_losses = counted("forward", module_class.compute_losses, clock)
        module_class.compute_losses._counted = True


def spent() -> dict[str, float]:
    """Seconds per phase since the last `reset()`."""
    return {p: SPENT.get(p, 0.0) for p in PHASES}


def reset() -> None:
    SPENT.clear()
