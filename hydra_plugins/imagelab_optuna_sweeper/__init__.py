"""A thin Hydra sweeper on current Optuna: `hydra/sweeper=imagelab_optuna` (see conf/hparams_search/)."""
