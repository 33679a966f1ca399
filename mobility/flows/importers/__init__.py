"""Flow importers; importing this package (FlowsConfig.ready) registers them with core.imports.

``counts`` is the Mobility template (CSV/XLSX) and holds the column-wise reader every large flow
count file goes through. The sibling importers (``points``, ``profile``, ``surveys``, ``forms``:
the registry of points, a country's workbook through a source profile, survey interviews, form
submissions) are imported here with no try/except, so that a broken importer fails loudly at
start-up instead of vanishing from the list of kinds.
"""

from . import counts, forms, points, profile, surveys  # noqa: F401
