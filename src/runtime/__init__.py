"""Runtime support: validation of configs, overrides and data files before any work."""
