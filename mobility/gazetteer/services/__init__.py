"""Gazetteer writes: versions and their diffs (versions.py), matching and aliases (matching.py), locations."""

from .locations import *  # noqa: F401,F403
from .matching import *  # noqa: F401,F403
from .versions import *  # noqa: F401,F403
