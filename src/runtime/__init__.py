"""What runs around a model: entry, errors, config and data validation, instantiation, DDP, RNG, EMA."""
