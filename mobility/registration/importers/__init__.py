"""Registration importers (registered with core.imports when the app loads).

``individuals`` reads a registration list (one row per person, households grouped by
``household_id``); form submissions bound to ``registration.households`` go through it too.
"""

from . import individuals  # noqa: F401
