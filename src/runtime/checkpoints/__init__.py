"""Checkpoints: atomic writes, the checks of a checkpoint against its model, the facts it carries, resume."""
