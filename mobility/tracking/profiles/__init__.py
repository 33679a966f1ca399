"""Source profiles: a saved column mapping that turns one country's DTM workbook layout into records.

A profile (``SourceProfile.mapping``) is JSON::

    {
      "sheet": "Fiche Colline" | "auto",
      "header_row": 2 | "auto",            # the row holding the column names (1-based)
      "level": "admin1" | "admin2" | "admin3" | "site",   # what one row describes
      "columns": {"admin1_code": "Province Pcode", "idp_individuals": "pdi_nombre", ...},
      "constants": {"country": "BDI", "assessment_type": "BA", "reporting_date": "2022-04-30"},
      "skip_rows_where": [{"column": "admin1_name", "matches": "^total"}],   # added to the defaults
      "pcode_prefix": {"MLI": "ML"},        # old editions: rewrite a code prefix before the lookup
      "age_bands": ["0-0", "1-5", "6-17", "18-59", "60+"],   # the workbook's own bands
      "duplicates": "error" | "sum" | "number",   # a place twice: refuse, add up, or keep apart as CODE~2
      "sadd_mismatch": "error" | "warn",   # sex-age parts that do not add up: refuse, or drop them with a warning
      "day_first": true                     # 03/04/2021 is 3 April; false for US-style sheets
    }

P-code rule (the same for every profile and for the template):

- admin1/admin2 codes are checked against the country's current gazetteer. A code that is there is
  used. A code that is not (old editions differ) is looked up by the row's name with the gazetteer
  matcher, under the admin1 already found; a matched name gives the gazetteer's code and a warning.
  A name the matcher will not decide goes to the review list and is a row error: nothing is stored
  until someone picks the area (which teaches the matcher an alias) and the file is imported again.
- admin3 codes: checked the same way when the gazetteer has that level;
  otherwise (the global p-code list has admin1-2 only) the workbook's code is kept as the place key
  and a warning says so. Site codes (level "site") are the place key as the workbook writes them,
  linked to a gazetteer Location when one has that code.
- Totals rows ("Total", "TOTAL", "Grand total", "Total général", or rows whose place code is empty
  but which carry a number) are skipped and listed in the warnings, never counted as places.

The package, by concern (import from ``mobility.tracking.profiles``; every public name is here):
``messages`` (error and warning texts), ``mapping`` (the vocabulary fields and ``Profile``),
``parsing`` (counts, dates, column names, reason and shelter text), ``suggest`` (synonyms and column
suggestions), ``workbook`` (sheets, header rows, the mapped table), ``store`` (SourceProfile
load/save, the shipped profiles, a round by number), ``read`` (applying a profile: ``PlaceResolver``,
``profile_read``, ``profile_preview``, ``workbook_outline``, ``context_for_job``).
"""

from __future__ import annotations

from .mapping import (
    DETAIL_FIELDS,
    GROUP_PREFIX,
    LEVELS,
    PLACE_FIELDS,
    PREFIX_GROUP,
    Profile,
    group_fields,
    sadd_fields,
    vocabulary_fields,
)
from .messages import (
    COUNTRY_MISSING,
    DATE_INVALID,
    DUPLICATE_PLACE,
    NUMBER_INVALID,
    NUMBER_NEGATIVE,
    NUMBER_TOO_LARGE,
    OPERATION_MISSING,
    PCODE_UNMATCHED,
    PLACE_MISSING,
    PROFILE_BUILTIN_READONLY,
    PROFILE_COLUMN_MISSING,
    PROFILE_INVALID,
    PROFILE_NO_FIGURE,
    PROFILE_NO_PLACE,
    PROFILE_UNKNOWN,
    ROUND_UNKNOWN,
    WARN_CODE_KEPT,
    WARN_PCODE_REPLACED,
    WARN_RENUMBERED,
    WARN_SADD_DROPPED,
    WARN_SITE_KEYED,
    WARN_TOTALS_SKIPPED,
)
from .parsing import (
    BLANK_NUMBERS,
    CountTooLarge,
    count_checked,
    normalise_column,
    parse_count,
    parse_date,
    reason_from_text,
    shelter_from_text,
)
from .read import (
    DEFAULT_SKIP_PATTERN,
    PREVIEW_ROWS,
    ImportContext,
    PlaceResolver,
    context_for_job,
    outline_at,
    profile_preview,
    profile_read,
    records_totals,
    site_key,
    workbook_outline,
)
from .store import (
    BUILTIN_DIR,
    builtin_profiles,
    builtin_profiles_load,
    profile_get,
    profile_save,
    round_for,
)
from .suggest import (
    SUGGESTION_MIN_SCORE,
    SYNONYMS,
    column_suggestions,
)
from .workbook import (
    MappedTable,
    Sheet,
    detect_header,
    header_columns,
    hxl_like,
    mapped_table,
    pick_sheet,
    workbook_sheets,
)

__all__ = [
    "BLANK_NUMBERS",
    "CountTooLarge",
    "BUILTIN_DIR",
    "COUNTRY_MISSING",
    "DATE_INVALID",
    "DEFAULT_SKIP_PATTERN",
    "DETAIL_FIELDS",
    "DUPLICATE_PLACE",
    "GROUP_PREFIX",
    "ImportContext",
    "LEVELS",
    "MappedTable",
    "NUMBER_INVALID",
    "NUMBER_NEGATIVE",
    "NUMBER_TOO_LARGE",
    "OPERATION_MISSING",
    "PCODE_UNMATCHED",
    "PLACE_FIELDS",
    "PLACE_MISSING",
    "PREFIX_GROUP",
    "PREVIEW_ROWS",
    "PROFILE_BUILTIN_READONLY",
    "PROFILE_COLUMN_MISSING",
    "PROFILE_INVALID",
    "PROFILE_NO_FIGURE",
    "PROFILE_NO_PLACE",
    "PROFILE_UNKNOWN",
    "PlaceResolver",
    "Profile",
    "ROUND_UNKNOWN",
    "SUGGESTION_MIN_SCORE",
    "SYNONYMS",
    "Sheet",
    "WARN_CODE_KEPT",
    "WARN_PCODE_REPLACED",
    "WARN_RENUMBERED",
    "WARN_SADD_DROPPED",
    "WARN_SITE_KEYED",
    "WARN_TOTALS_SKIPPED",
    "builtin_profiles",
    "builtin_profiles_load",
    "column_suggestions",
    "context_for_job",
    "count_checked",
    "detect_header",
    "group_fields",
    "header_columns",
    "hxl_like",
    "mapped_table",
    "normalise_column",
    "outline_at",
    "parse_count",
    "parse_date",
    "pick_sheet",
    "profile_get",
    "profile_preview",
    "profile_read",
    "profile_save",
    "reason_from_text",
    "records_totals",
    "round_for",
    "sadd_fields",
    "shelter_from_text",
    "site_key",
    "vocabulary_fields",
    "workbook_outline",
    "workbook_sheets",
]
