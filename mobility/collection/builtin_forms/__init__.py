"""Ready-made XLSForms for the tracking tools, each with its binding, and their admin-area media.

- ``baseline``: baseline area (admin 3) and sub-area (village) assessment → ``tracking.template``,
  one row per population group (a repeat).
- ``site``: multi-sectoral site assessment → ``tracking.site-assessment``.
- ``ett``: emergency event tracking, one row per group movement (a repeat) → ``tracking.events``.

Labels are in English, French and Portuguese. The admin areas are cascading selects
(``select_one_from_file admin1.csv`` → ``admin2.csv`` filtered by ``admin1`` → ``admin3.csv`` filtered
by ``admin2``). The workbooks hold no country data, so they are committed under ``data/forms/``
(regenerate them with ``python -m mobility.collection.builtin_forms``); the CSV media are generated
from the operation country's current gazetteer each time a form is published.

Modules: ``common`` (columns, row builders, shared lists, ``Builtin``), one per form (``baseline``,
``site``, ``ett``), and ``publish`` (the forms by key, admin-area media, publishing).
"""

from __future__ import annotations

from .baseline import (
    BASELINE,
)
from .common import (
    ADMIN_LABELS,
    BUILTIN_NO_GAZETTEER,
    BUILTIN_NO_ROUND,
    BUILTIN_UNKNOWN,
    CHOICE_COLUMNS,
    FORMS_DIR,
    HOUSEHOLDS,
    INDIVIDUALS,
    KEY_INFORMANTS,
    LANGUAGES,
    MEDIA_NAMES,
    META,
    NONE_OTHER,
    NOT_FUTURE,
    NOT_NEGATIVE,
    POPULATION_GROUPS,
    REASONS,
    SECTOR_LABELS,
    SHELTERS,
    SURVEY_COLUMNS,
    YES_NO,
    Builtin,
    admin_cascade,
    c,
    choices,
    q,
)
from .ett import (
    ETT,
)
from .publish import (
    BUILTINS,
    Published,
    admin_media,
    builtin_get,
    builtin_publish,
    builtin_workbooks_write,
    open_round,
)
from .site import (
    FIGURE_PARTS,
    SITE,
    SITE_GROUPS,
    SITE_INDICATORS,
)

__all__ = [
    "HOUSEHOLDS",
    "INDIVIDUALS",
    "KEY_INFORMANTS",
    "ADMIN_LABELS",
    "BASELINE",
    "BUILTINS",
    "BUILTIN_NO_GAZETTEER",
    "BUILTIN_NO_ROUND",
    "BUILTIN_UNKNOWN",
    "Builtin",
    "CHOICE_COLUMNS",
    "ETT",
    "FIGURE_PARTS",
    "FORMS_DIR",
    "LANGUAGES",
    "MEDIA_NAMES",
    "META",
    "NONE_OTHER",
    "NOT_FUTURE",
    "NOT_NEGATIVE",
    "POPULATION_GROUPS",
    "Published",
    "REASONS",
    "SECTOR_LABELS",
    "SHELTERS",
    "SITE",
    "SITE_GROUPS",
    "SITE_INDICATORS",
    "SURVEY_COLUMNS",
    "YES_NO",
    "admin_cascade",
    "admin_media",
    "builtin_get",
    "builtin_publish",
    "builtin_workbooks_write",
    "c",
    "choices",
    "open_round",
    "q",
]
