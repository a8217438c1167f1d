"""`python predict.py model=<name> ckpt_path=<ckpt> +source=<image or folder>` (see the README)."""

import hydra

from src.predict import predict
from src.utils.entry import preflight, run_task


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
def main(cfg):
    return run_task(predict, cfg)


if __name__ == "__main__":
    preflight("predict")  # unknown options / misspelled keys: one line, exit 2
    main()
