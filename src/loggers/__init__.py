"""Loggers: Lightning's CSV and W&B loggers with what a run folder needs (appending, offline runs)."""
