"""Our Hydra sweeper on current Optuna, a drop-in superset of hydra-optuna-sweeper: `hydra/sweeper=optuna`
or `imagelab_optuna` (docs/sweeps-and-scale.md, conf/hparams_search/)."""
