"""Deduplication engine (no Django): normalisation in `normalise`, Splink settings and runs in `engine`."""
