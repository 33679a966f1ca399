"""Restrictions importers; importing this package registers them with core.imports.

``restrictions.points`` (the registry), ``restrictions.statuses`` (status history),
``restrictions.cobap`` and ``restrictions.wfp`` (travel restrictions, through source profiles).
"""

from . import cobap, points, statuses, wfp  # noqa: F401
