"""Config checks: overrides, every key and value of the composed config, the Trainer's keys, the config tree, group instantiation."""
