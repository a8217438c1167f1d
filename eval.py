"""`python eval.py model=<unet|siamese|yolo> [overrides]`: see conf/eval.yaml and the README."""

import hydra

from src.pipeline import evaluate
from src.utils.entry import preflight, run_task


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg):
    return run_task(evaluate, cfg)


if __name__ == "__main__":
    preflight("eval")  # unknown options / misspelled keys: one line, exit 2
    main()
