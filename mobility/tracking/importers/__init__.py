"""Tracking importers; importing this package registers them with core.imports."""

from . import (  # noqa: F401
    dtm,  # noqa: F401
    events,  # noqa: F401
    profile,
    sites,  # noqa: F401
    template,
)
