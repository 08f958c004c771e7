"""Experiment descriptions shipped with kotosim (TOML data files)."""
