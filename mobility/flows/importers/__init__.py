"""Flow importers; importing this package (FlowsConfig.ready) registers them with core.imports.

``counts`` is the Mobility template (CSV/XLSX) and holds the column-wise reader every large flow
count file goes through. The lead wires the sibling importers here as they land (a source profile
such as the Somalia DTM workbook, flow surveys, form submissions): add them to this import with no
try/except, so a broken importer fails loudly at start-up instead of vanishing from the list.
"""

from . import counts, forms, points, profile, surveys  # noqa: F401
