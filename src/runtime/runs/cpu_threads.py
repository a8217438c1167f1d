"""`cpu_threads`: torch threads of the run's process when it trains on the CPU (null = torch's default,
all cores). The detector configs set 1: their small convolutions gain little from more threads, which
mostly spin against the data workers."""

from __future__ import annotations

import torch

from src.errors import check


def apply_cpu_threads(threads: int | None, trainer) -> None:
    check(
        threads is None or (isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1),
        "cpu_threads",
        "an integer >= 1 or null (all cores)",
        threads,
    )
    if threads and trainer.strategy.root_device.type == "cpu":
        torch.set_num_threads(threads)
