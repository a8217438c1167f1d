"""`python eval.py ckpt_path=<ckpt> [data=...] [overrides]`: see conf/eval.yaml and the README."""

import hydra

from src.runtime.checkpoints.checkpoint_check import main_with_checkpoint_model
from src.runtime.runs.entry import run_task


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg):
    from src.pipeline import evaluate  # torch and Lightning: only when a task runs, not for --help or a typo

    return run_task(evaluate, cfg)


if __name__ == "__main__":
    main_with_checkpoint_model(main, "eval")  # `model=` from the checkpoint, then the overrides checked
