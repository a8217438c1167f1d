"""What every model owes the framework, as one test base (segmentation-models-pytorch's BaseModelTester).

A model's test file holds one subclass per model (`class TestUnet(ModelTester)`) that names its config,
its tiny CPU run, the metrics it logs and how a user builds it in Python; the base then checks, the same
way for every model:
- one train + val batch through the real pipeline logs every declared metric, each in [0, 1];
- the module built in Python from the YAML's values equals the one Hydra builds (one source of defaults);
- a short training, then `eval.py` given only the checkpoint (and the same data), gives the same test
  metric: the checkpoint says which model it holds.
Behaviour the three tasks share beyond one model (sweeps, resume, W&B, predict, DDP) is parametrised over
`tests/tiny_models.MODELS` in its own file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra.core.hydra_config import HydraConfig

from tests.conftest import make_cfg, run_train
from tests.python_vs_yaml import assert_python_equals_yaml


class ModelTester:
    model: str  # conf/model/<model>.yaml
    tiny: list[str]  # overrides of a run that takes seconds on CPU (data size, widths, workers)
    options: list[str] = []  # group options this model variant picks (`model/net=smp`), in every test
    val_metrics: tuple[str, ...]  # logged by validation, each a rate in [0, 1]
    test_metric: str  # the headline test metric, compared between training and eval.py

    def python_build(self):
        """The module a user builds in Python from the values of conf/model/ (no Hydra)."""
        raise NotImplementedError

    def overrides(self, *extra: str) -> list[str]:
        return [f"model={self.model}", *self.options, *self.tiny, *extra]

    def test_fast_dev_run_logs_its_metrics(self, tmp_path: Path):
        run_train(make_cfg(tmp_path, self.overrides("debug=fdr")))
        metrics = json.loads((tmp_path / "metrics.json").read_text())
        missing = [key for key in self.val_metrics if key not in metrics]
        assert not missing, f"not logged: {missing} (logged: {sorted(metrics)})"
        for key in self.val_metrics:
            assert 0.0 <= metrics[key] <= 1.0, (key, metrics[key])

    def test_built_in_python_equals_the_yaml(self, tmp_path: Path):
        assert_python_equals_yaml(self.model, self.python_build(), tmp_path, self.options)

    @pytest.mark.slow
    def test_train_then_eval_with_only_the_checkpoint(self, tmp_path: Path):
        from src.pipeline import evaluate
        from src.runtime.checkpoints.checkpoint_check import args_with_checkpoint_model

        train_dir, eval_dir = tmp_path / "train", tmp_path / "eval"
        limits = ["trainer.max_epochs=2", "+trainer.limit_train_batches=2", "seed=0"]
        run_train(make_cfg(train_dir, self.overrides(*limits)))
        trained = json.loads((train_dir / "metrics.json").read_text())
        checkpoints = train_dir / "checkpoints"
        best = sorted(checkpoints.glob("epoch_*.ckpt"))
        assert (checkpoints / "last.ckpt").is_file() and len(best) == 1  # save_top_k: 1, no `-v1` copies
        assert (train_dir / "plots").is_dir()

        # the same images; no model keys and no image size: those come from the checkpoint
        data = [o for o in self.tiny if o.startswith("data.") and not o.startswith("data.image_size")]
        args = args_with_checkpoint_model([f"ckpt_path={best[0]}", *data])
        assert args[-1] == f"model={self.model}"  # read from the checkpoint, not typed again
        cfg = make_cfg(eval_dir, args, "eval")
        HydraConfig.instance().set_config(cfg)
        evaluated = evaluate(cfg)
        assert evaluated[self.test_metric] == pytest.approx(trained[self.test_metric], abs=1e-6)
