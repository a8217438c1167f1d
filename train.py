"""`python train.py model=<unet|siamese|yolo> [overrides]`: see conf/train.yaml and the README."""

import hydra

from src.runtime.runs.entry import preflight, run_task


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg):
    from src.pipeline import train  # torch and Lightning: only when a task runs, not for --help or a typo

    return run_task(train, cfg)


if __name__ == "__main__":
    preflight("train")  # unknown options / misspelled keys: one line, exit 2
    main()
