"""The flow-count template: the columns of Mobility's own CSV/XLSX layout for flow counts.

``fmp_code``, ``record_id``, ``date``, ``direction`` and ``individuals`` are required; every other
column may be left out or empty. ``record_id`` is the team's own number for the observation
(unique per FMP): sending the same record again updates it.
"""

from __future__ import annotations

from .models import SADD_FIELDS, VULNERABILITY_FIELDS

REQUIRED_COLUMNS = ["fmp_code", "record_id", "date", "direction", "individuals"]
TEMPLATE_COLUMNS = [
    "fmp_code",
    "record_id",
    "date",
    "hour_start",
    "period_hours",
    "direction",
    "from_country",
    "from_admin1",
    "from_admin2",
    "to_country",
    "to_admin1",
    "to_admin2",
    "nationality",
    "transport",
    "reason",
    "intended_duration",
    "individuals",
    "households",
    *SADD_FIELDS,
    *VULNERABILITY_FIELDS,
]
