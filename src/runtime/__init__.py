"""What runs around a model: entry, errors, config validation, instantiation, DDP, RNG, EMA, threads."""
