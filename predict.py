"""`python predict.py ckpt_path=<ckpt> +source=<image or folder>` (see docs/ and conf/predict.yaml)."""

import hydra

from src.runtime.checkpoints.checkpoint_check import main_with_checkpoint_model
from src.runtime.runs.entry import run_task


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
def main(cfg):
    from src.predict import predict  # torch and Lightning: only when a task runs, not for --help or a typo

    return run_task(predict, cfg)


if __name__ == "__main__":
    main_with_checkpoint_model(main, "predict")  # `model=` from the checkpoint, then the overrides checked
