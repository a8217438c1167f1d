"""Run-time safety: exact resume of data, run-folder locks, saved-config checks, safe writes."""
