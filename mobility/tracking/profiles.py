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
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from mobility.core.imports import ReadResult, RowError
from mobility.core.models import Operation, PopulationGroup, Round
from mobility.core.sadd import AgeBands, Sadd
from mobility.core.tables import (
    FILE_SHEET_MISSING,
    HEADER_SCAN_ROWS,
    TableError,
    _cell_text,
    _check_zip,
    _header_score,
    _sniff_delimiter,
    check_size,
    detect_encoding,
    is_hxl_row,
    normalise_header,
)

from .models import AssessmentType, DisplacementReason, ShelterType, SourceProfile
from .records import AssessmentRecord, BreakdownPart, RecordBuilder

BUILTIN_DIR = Path(__file__).resolve().parent / "data" / "profiles"

# --- messages (tests import these) --------------------------------------------------------------

PROFILE_UNKNOWN = 'There is no source profile named "{name}"; see `mobility tracking_profiles list`.'
PROFILE_INVALID = "The profile is not valid: {reason}"
PROFILE_COLUMN_MISSING = 'the workbook has no column "{column}" (mapped to {field}); it has: {columns}'
PROFILE_NO_FIGURE = "map at least one households or individuals column"
PROFILE_NO_PLACE = "map the place column for level {level}: {fields}"
NUMBER_INVALID = '"{value}" is not a whole number'
NUMBER_NEGATIVE = '"{value}" is negative'
DATE_INVALID = '"{value}" is not a date (write 2024-03-31)'
PCODE_UNMATCHED = (
    '"{value}" is not in the {country} gazetteer and its name could not be matched; added to the review list'
)
PLACE_MISSING = "no {what}: the row says nothing about where it is"
DUPLICATE_PLACE = "{place} already appears in row {first} with different figures"
ROUND_UNKNOWN = "Operation {operation} has no round {number}; create it first (mobility rounds create)."
OPERATION_MISSING = "Say which operation the file belongs to."
COUNTRY_MISSING = "The profile names no country and the operation has none."
WARN_PCODE_REPLACED = (
    "{count} row(s): workbook p-codes not in the {country} gazetteer were matched by name ({examples})"
)
WARN_CODE_KEPT = "{count} row(s): admin{level} codes are kept as the workbook has them (the {country} gazetteer has no admin{level} areas)"
WARN_TOTALS_SKIPPED = "{count} totals row(s) skipped, not counted as places: rows {rows}"
WARN_SADD_DROPPED = "{count} row(s): the sex and age parts did not add up and were left out ({first})"

WARN_RENUMBERED = (
    "{count} row(s) repeat another row's place code with other figures; kept as separate places: {examples}"
)
WARN_SITE_KEYED = "{count} site(s) have no code and are keyed by their area and name (e.g. {example})"

LEVELS = {"admin1": 1, "admin2": 2, "admin3": 3, "site": 4}

# population group → the column prefix used in profiles and the template
GROUP_PREFIX = {
    PopulationGroup.IDP: "idp",
    PopulationGroup.RETURNEE_IDP: "returnee_idp",
    PopulationGroup.RETURNEE_ABROAD: "returnee_abroad",
    PopulationGroup.MIGRANT: "migrant",
    PopulationGroup.REFUGEE: "refugee",
    PopulationGroup.HOST: "host",
}
PREFIX_GROUP = {v: k for k, v in GROUP_PREFIX.items()}

PLACE_FIELDS = [
    "admin1_name",
    "admin1_code",
    "admin2_name",
    "admin2_code",
    "admin3_name",
    "admin3_code",
    "site_code",
    "site_name",
    "latitude",
    "longitude",
    "reporting_date",
    "key_informants",
]
DETAIL_FIELDS = [
    "displacement_reason",
    "origin_admin1_name",
    "origin_admin1_code",
    "origin_admin2_name",
    "origin_admin2_code",
    "shelter_type",
    "displacement_start",
]


def group_fields() -> list[str]:
    out = []
    for prefix in GROUP_PREFIX.values():
        out += [f"{prefix}_households", f"{prefix}_individuals"]
    return out


def sadd_fields(bands: AgeBands | None = None) -> list[str]:
    bands = bands or AgeBands.default()
    return ["idp_males", "idp_females"] + [
        f"idp_{sex}_{label}" for sex in ("female", "male") for label in bands.labels()
    ]


def vocabulary_fields(bands: AgeBands | None = None) -> list[str]:
    """Every field a profile may map, in the order the mapping page shows them."""
    return PLACE_FIELDS + group_fields() + sadd_fields(bands) + DETAIL_FIELDS


# Synonyms per field (English, French, Portuguese, DTM shorthand), compared after normalisation.
SYNONYMS: dict[str, list[str]] = {
    "admin1_name": [
        "admin 1",
        "admin1",
        "province",
        "region",
        "state",
        "state name",
        "region name",
        "etat",
        "provincia",
        "nom province",
        "adm1 name",
    ],
    "admin1_code": [
        "admin 1 pcode",
        "admin1 pcode",
        "province pcode",
        "region code",
        "state pcode",
        "statepcode",
        "adm1 code",
        "adm1 pcode",
        "p code admin 1",
        "region p code",
    ],
    "admin2_name": [
        "admin 2",
        "admin2",
        "district",
        "district name",
        "commune",
        "department",
        "departement",
        "locality",
        "zone",
        "cercle",
        "distrito",
        "adm2 name",
    ],
    "admin2_code": [
        "admin 2 pcode",
        "admin2 pcode",
        "district code",
        "commune pcode",
        "locality code",
        "adm2 code",
        "adm2 pcode",
        "p code admin 2",
        "zone p code",
        "pcode",
    ],
    "admin3_name": [
        "admin 3",
        "admin3",
        "woreda",
        "colline",
        "sub prefecture",
        "sous prefecture",
        "posto administrativo",
        "adm3 name",
    ],
    "admin3_code": [
        "admin 3 pcode",
        "admin3 pcode",
        "adm3 code",
        "adm3 pcode",
        "p code admin 3",
        "woreda p code",
    ],
    "site_code": [
        "site code",
        "location code",
        "settlement code",
        "village code",
        "location dtm code",
        "p code localite",
        "site id",
        "ssid",
    ],
    "site_name": [
        "location",
        "location name",
        "site",
        "site name",
        "settlement name",
        "village",
        "nom localite",
        "localidade",
        "bairro",
    ],
    "latitude": ["latitude", "lat", "gps latitude", "y", "gis y", "y coordinates"],
    "longitude": ["longitude", "lon", "long", "gps longitude", "x", "gis x", "x coordinates"],
    "reporting_date": [
        "reporting date",
        "reported date",
        "date reported",
        "snapshot date",
        "date",
        "date de l evaluation",
        "survey date",
        "data",
    ],
    "key_informants": [
        "key informants",
        "number of key informants",
        "nombre d informateurs cles consultes",
        "informateurs cles",
    ],
    "idp_households": [
        "idp hh",
        "idps hh",
        "idp households",
        "total idp households",
        "menages pdi",
        "nombre de menages pdi",
        "menages des pdi",
        "agregados deslocados",
        "agregados familiares deslocados",
        "total no of idps hh",
        "hh",
    ],
    "idp_individuals": [
        "idp ind",
        "idps ind",
        "idp individuals",
        "idps individuals",
        "total idps",
        "total idp individuals",
        "pdi",
        "nombre total de pdi",
        "personnes deplacees internes",
        "pdi nombre",
        "deslocados",
        "individuos deslocados",
        "total no of idps ind",
        "ind",
    ],
    "returnee_idp_households": [
        "returnee hh",
        "returnees hh",
        "ret idp hh",
        "num ret idp hh",
        "menages retournes",
        "menages retournes anciens pdi",
        "returnees from internal displacement hh",
    ],
    "returnee_idp_individuals": [
        "returnee ind",
        "returnees ind",
        "returnees individuals",
        "ret idp ind",
        "num ret idp ind",
        "retournes",
        "individus retournes anciens pdi",
        "returnees from internal displacement",
        "retornados",
    ],
    "returnee_abroad_households": [
        "returnees from abroad hh",
        "ret from abroad hh",
        "num ret from abroad hh",
        "menages retournes de l etranger",
    ],
    "returnee_abroad_individuals": [
        "returnees from abroad",
        "returnees from abroad ind",
        "ret from abroad ind",
        "num ret from abroad ind",
        "retournes de l etranger",
    ],
    "migrant_households": ["migrant hh", "migrants hh"],
    "migrant_individuals": ["migrants", "migrant ind", "migrants individuals"],
    "refugee_households": ["refugee hh", "refugees hh", "menages refugies"],
    "refugee_individuals": ["refugees", "refugee ind", "refugies", "refugiados"],
    "host_households": [
        "host hh",
        "host households",
        "menages des communaute hotes",
        "residents hh",
        "agregados acolhedores",
    ],
    "host_individuals": [
        "host individuals",
        "host community",
        "individus dans les communautes hotes",
        "residents",
        "comunidade de acolhimento",
    ],
    "idp_males": ["idp males", "male idps", "total male pdi", "hommes pdi", "homens deslocados"],
    "idp_females": ["idp females", "female idps", "total female pdi", "femmes pdi", "mulheres deslocadas"],
    "displacement_reason": [
        "displacement reason",
        "reason for displacement",
        "type of displacement",
        "raison de deplacement",
        "raison deplacement pdi",
        "motivo do deslocamento",
        "first",
    ],
    "origin_admin1_name": [
        "admin 1 area of origin",
        "area of origin",
        "origin admin1",
        "province de provenance",
        "province d origine",
        "state1",
        "provincia de origem",
    ],
    "origin_admin1_code": [
        "origin admin1 pcode",
        "admin 1 pcode origin",
        "admin 1 pcode origin majority present idp",
    ],
    "origin_admin2_name": [
        "origin admin2",
        "departement de provenance",
        "commune d origine",
        "locality1",
        "distrito de origem",
    ],
    "origin_admin2_code": ["origin admin2 pcode"],
    "shelter_type": ["shelter", "shelter type", "type d abri", "tipo de abrigo"],
    "displacement_start": [
        "displacement start date",
        "main displacement start date",
        "date arrivee majorite pdi",
        "date of displacement",
    ],
}

DEFAULT_SKIP_PATTERN = (
    r"^\s*(grand\s*total|sous[\s-]*total|sub[\s-]*total|total(es|aux)?(\s+(general|général|result))?)\b"
)
BLANK_NUMBERS = {"", "-", "–", "—", "n/a", "na", "nd", "n.d.", "none", "null", "."}
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']")
_THOUSANDS_COMMA = re.compile(r"^-?\d{1,3}(,\d{3})+$")
_THOUSANDS_DOT = re.compile(r"^-?\d{1,3}(\.\d{3}){2,}$")
_DECIMAL_ZERO = re.compile(r"^(-?\d+)[.,]0+$")


# --- parsing ------------------------------------------------------------------------------------


def parse_count(text) -> int | None:
    """A count as people write it: "1 234", "1,234", "1234.0" → 1234; "", "-" → None. Raises ValueError."""
    if text is None:
        return None
    if isinstance(text, bool):
        raise ValueError(text)
    if isinstance(text, int):
        return text
    if isinstance(text, float):
        if text != text or not text.is_integer():
            raise ValueError(text)
        return int(text)
    value = str(text).strip()
    if value.lower() in BLANK_NUMBERS:
        return None
    value = _SPACES.sub("", value)
    if value.startswith("+"):
        value = value[1:]
    if _THOUSANDS_COMMA.match(value):
        value = value.replace(",", "")
    elif _THOUSANDS_DOT.match(value):
        value = value.replace(".", "")
    elif m := _DECIMAL_ZERO.match(value):
        value = m.group(1)
    if not re.fullmatch(r"-?\d+", value):
        raise ValueError(text)
    return int(value)


def parse_date(text, *, day_first: bool = True) -> dt.date | None:
    """ISO dates, and 31/03/2024 (or 3/31/2024 when day_first is False, as US-style sheets write them)."""
    value = str(text or "").strip()
    if not value:
        return None
    local = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y") if day_first else ("%m/%d/%Y", "%m-%d-%Y")
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", *local, "%Y/%m/%d"):
        try:
            return dt.datetime.strptime(value[:19], fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def normalise_column(name: str) -> str:
    """Lower case, no accents, no punctuation or numbering: "2.1.b.1: Total IDP (Individuals)" → "total idp individuals"."""
    text = unicodedata.normalize("NFKD", str(name or "")).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"^[\d.a-z]*\d[\d.a-z]*\s*[:.)-]\s*", "", text)  # question numbers
    text = text.replace("#", " no ").replace("_", " ")
    text = re.sub(r"[^a-z0-9+]+", " ", text)
    text = re.sub(r"\b(sum of|no|nombre de|number of)\b", " ", text)
    return " ".join(text.split())


_REASONS = [
    (
        DisplacementReason.NATURAL_DISASTER,
        (
            "natur",
            "flood",
            "inond",
            "cyclon",
            "drought",
            "secheresse",
            "pluie",
            "rain",
            "disaster",
            "desastre",
            "cheia",
            "seca",
            "climat",
        ),
    ),
    (
        DisplacementReason.GENERALISED_VIOLENCE,
        ("violence", "insecur", "insecurite", "attaque", "attack", "clash", "banditry"),
    ),
    (
        DisplacementReason.CONFLICT,
        ("conflict", "conflit", "conflito", "armed", "arme", "war", "guerre", "socio politi"),
    ),
    (DisplacementReason.EVICTION, ("evict", "expulsion", "despejo")),
    (DisplacementReason.ECONOMIC, ("econom", "livelihood", "emploi", "work")),
]


def reason_from_text(text: str) -> str:
    """The controlled displacement reason for a source's free text (first cause named wins)."""
    plain = normalise_column(text)
    if not plain:
        return DisplacementReason.UNKNOWN
    best, best_pos = DisplacementReason.OTHER, len(plain) + 1
    for reason, stems in _REASONS:
        for stem in stems:
            pos = plain.find(stem)
            if 0 <= pos < best_pos:
                best, best_pos = reason, pos
    return str(best)


_SHELTERS = [
    (ShelterType.HOST_FAMILY, ("host", "famil", "accueil")),
    (ShelterType.RENTED, ("rent", "lou", "arrend")),
    (ShelterType.CAMP, ("camp", "planned")),
    (ShelterType.COLLECTIVE_CENTRE, ("collective", "school", "ecole", "public building", "abandoned")),
    (ShelterType.SPONTANEOUS_SITE, ("spontan", "informal", "gathering")),
    (ShelterType.EMERGENCY_SHELTER, ("tent", "emergency", "abri d urgence")),
    (ShelterType.OPEN_AIR, ("open air", "no shelter", "belle etoile")),
    (ShelterType.OWN_HOUSE, ("own", "propre")),
]


def shelter_from_text(text: str) -> str:
    plain = normalise_column(text)
    if plain in ShelterType.values:
        return plain
    plain_underscored = plain.replace(" ", "_")
    if plain_underscored in ShelterType.values:
        return plain_underscored
    for shelter, stems in _SHELTERS:
        if any(s in plain for s in stems):
            return str(shelter)
    return str(ShelterType.OTHER)


# --- the profile ----------------------------------------------------------------------------------


@dataclass
class Profile:
    """A validated mapping (see the module docstring)."""

    columns: dict[str, str]
    sheet: str = "auto"
    header_row: int | str = "auto"
    level: str = "admin2"
    constants: dict = field(default_factory=dict)
    skip_rows_where: list[dict] = field(default_factory=list)
    pcode_prefix: dict[str, str] = field(default_factory=dict)
    age_bands: list[str] = field(default_factory=list)
    duplicates: str = "error"
    sadd_mismatch: str = "error"
    day_first: bool = True
    name: str = ""

    @classmethod
    def from_mapping(cls, mapping: dict, *, name: str = "") -> Profile:
        if not isinstance(mapping, dict):
            raise ValidationError(PROFILE_INVALID.format(reason="a profile is a JSON object"))
        known = {
            "sheet",
            "header_row",
            "level",
            "columns",
            "constants",
            "skip_rows_where",
            "pcode_prefix",
            "age_bands",
            "duplicates",
            "sadd_mismatch",
            "day_first",
            "label",
            "description",
        }
        extra = set(mapping) - known
        if extra:
            raise ValidationError(PROFILE_INVALID.format(reason=f"unknown keys {sorted(extra)}"))
        columns = {k: str(v) for k, v in (mapping.get("columns") or {}).items() if v not in (None, "")}
        bands = AgeBands.parse(mapping["age_bands"]) if mapping.get("age_bands") else AgeBands.default()
        allowed = set(vocabulary_fields(bands))
        unknown = sorted(set(columns) - allowed)
        if unknown:
            raise ValidationError(PROFILE_INVALID.format(reason=f"unknown fields {unknown}"))
        level = mapping.get("level", "admin2")
        if level not in LEVELS:
            raise ValidationError(PROFILE_INVALID.format(reason=f"level must be one of {', '.join(LEVELS)}"))
        header_row = mapping.get("header_row", "auto")
        if header_row != "auto" and (not isinstance(header_row, int) or header_row < 1):
            raise ValidationError(PROFILE_INVALID.format(reason='header_row is a row number or "auto"'))
        constants = dict(mapping.get("constants") or {})
        atype = constants.get("assessment_type", AssessmentType.BASELINE_AREA)
        if atype not in AssessmentType.values:
            raise ValidationError(
                PROFILE_INVALID.format(reason=f"assessment_type must be one of {AssessmentType.values}")
            )
        for key, value in (
            ("duplicates", mapping.get("duplicates", "error")),
            ("sadd_mismatch", mapping.get("sadd_mismatch", "error")),
        ):
            if value not in (("error", "sum", "number") if key == "duplicates" else ("error", "warn")):
                raise ValidationError(PROFILE_INVALID.format(reason=f"{key} cannot be {value!r}"))
        if not any(f.endswith(("_households", "_individuals")) for f in columns):
            raise ValidationError(PROFILE_INVALID.format(reason=PROFILE_NO_FIGURE))
        place = _place_fields(level)
        if not any(f in columns for f in place):
            raise ValidationError(
                PROFILE_INVALID.format(reason=PROFILE_NO_PLACE.format(level=level, fields=" or ".join(place)))
            )
        rules = mapping.get("skip_rows_where") or []
        for rule in rules:
            try:
                re.compile(rule["matches"])
            except (KeyError, TypeError, re.error) as exc:
                raise ValidationError(PROFILE_INVALID.format(reason=f"skip rule {rule!r}: {exc}"))
        return cls(
            columns=columns,
            sheet=mapping.get("sheet") or "auto",
            header_row=header_row,
            level=level,
            constants=constants,
            skip_rows_where=rules,
            pcode_prefix=dict(mapping.get("pcode_prefix") or {}),
            age_bands=list(mapping.get("age_bands") or []),
            duplicates=mapping.get("duplicates", "error"),
            sadd_mismatch=mapping.get("sadd_mismatch", "error"),
            day_first=bool(mapping.get("day_first", True)),
            name=name,
        )

    @property
    def bands(self) -> AgeBands:
        return AgeBands.parse(self.age_bands) if self.age_bands else AgeBands.default()

    @property
    def assessment_type(self) -> str:
        return self.constants.get("assessment_type", AssessmentType.BASELINE_AREA)


def _place_fields(level: str) -> list[str]:
    if level == "site":
        return ["site_code", "site_name"]
    n = LEVELS[level]
    return [f"admin{n}_code", f"admin{n}_name"]


# --- reading workbooks ----------------------------------------------------------------------------


@dataclass
class Sheet:
    name: str
    rows: list[list[str]]


def workbook_sheets(path: Path | str) -> list[Sheet]:
    """Every sheet of an XLSX/XLS/ODS workbook (or the one table of a CSV) as rows of text."""
    path = Path(path)
    check_size(path)
    if path.suffix.lower() in {".csv", ".tsv", ".txt"}:
        encoding = detect_encoding(path)
        with path.open(encoding=encoding, newline="") as fh:
            sample = fh.read(64 * 1024)
            fh.seek(0)
            rows = [[c.strip() for c in r] for r in csv.reader(fh, delimiter=_sniff_delimiter(sample))]
        return [Sheet(path.stem, rows)]
    from python_calamine import CalamineWorkbook

    _check_zip(path)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        return [
            Sheet(
                name,
                [
                    [_cell_text(c).strip() for c in row]
                    for row in workbook.get_sheet_by_name(name).iter_rows()
                ],
            )
            for name in workbook.sheet_names
        ]
    except TableError:
        raise
    except Exception as exc:  # calamine raises its own error types
        raise TableError(f"The workbook could not be read: {str(exc)[:200]}")


def hxl_like(cells: list[str]) -> bool:
    """An HXL hashtag row, tolerating a stray note in it (Sudan's has "Show location")."""
    filled = [c for c in cells if c]
    tags = sum(1 for c in filled if c.startswith("#"))
    return bool(filled) and (is_hxl_row(cells) or (tags >= 3 and tags >= 0.8 * len(filled)))


def header_columns(cells: list[str]) -> list[str]:
    """Column names of a header row; repeated names get " (2)", " (3)" so each stays addressable."""
    seen: Counter = Counter()
    out = []
    for i, cell in enumerate(cells):
        name = normalise_header(cell) or f"column_{i + 1}"
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def detect_header(rows: list[list[str]], expected: set[str] | None = None) -> int:
    """1-based row number of the header: the row that best matches the expected names, else the most label-like row."""
    best, best_score = 1, -1.0
    for i, cells in enumerate(rows[:HEADER_SCAN_ROWS]):
        if hxl_like(cells) or not any(cells):
            continue
        if expected:
            score = _header_score(header_columns(cells), expected)
        else:
            filled = [c for c in cells if c]
            # Rows of group titles leave most cells empty; the column names fill the row.
            score = _header_score(cells, None) * len(filled) / max(1, len(cells))
        if score > best_score + 1e-9:
            best, best_score = i + 1, score
    return best


def pick_sheet(sheets: list[Sheet], expected: set[str] | None) -> Sheet:
    if not expected:
        return max(sheets, key=lambda s: len(s.rows))
    return max(
        sheets,
        key=lambda s: max(
            (_header_score(header_columns(r), expected) for r in s.rows[:HEADER_SCAN_ROWS]), default=0
        ),
    )


@dataclass
class MappedTable:
    sheet: str
    header_row: int
    columns: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (sheet row number, {column: text})


def mapped_table(sheets: list[Sheet], profile: Profile) -> MappedTable:
    """Find the sheet and header row the profile names, and the data rows under it."""
    expected = {normalise_header(c) for c in profile.columns.values()}
    if profile.sheet == "auto":
        sheet = pick_sheet(sheets, expected)
    else:
        sheet = next((s for s in sheets if s.name == profile.sheet), None)
        if sheet is None:
            raise TableError(
                FILE_SHEET_MISSING.format(sheet=profile.sheet, sheets=", ".join(s.name for s in sheets))
            )
    header = profile.header_row if profile.header_row != "auto" else detect_header(sheet.rows, expected)
    if header > len(sheet.rows):
        raise TableError(f"The sheet {sheet.name!r} has no row {header}.")
    columns = header_columns(sheet.rows[header - 1])
    missing = [(f, c) for f, c in profile.columns.items() if normalise_header(c) not in columns]
    if missing:
        raise TableError(
            PROFILE_COLUMN_MISSING.format(
                column=missing[0][1], field=missing[0][0], columns=", ".join(columns[:40])
            )
        )
    rows = []
    for number, cells in enumerate(sheet.rows[header:], start=header + 1):
        if not any(cells) or hxl_like(cells):
            continue
        rows.append((number, dict(zip(columns, cells, strict=False))))
    return MappedTable(sheet.name, header, columns, rows)


# --- p-codes --------------------------------------------------------------------------------------


class PlaceResolver:
    """Checks admin codes against the current gazetteer and falls back to the names (see the module rule)."""

    def __init__(self, *, country_iso3: str, pcode_prefix: dict | None = None, job=None, operation=None):
        from mobility.gazetteer.matching import matcher_for
        from mobility.gazetteer.models import AdminArea, GazetteerVersion, Location

        self.country = country_iso3
        self.prefix = sorted((pcode_prefix or {}).items(), key=lambda kv: -len(kv[0]))
        self.job, self.operation = job, operation
        version = GazetteerVersion.objects.filter(country_iso3=country_iso3, is_current=True).first()
        if version is None:
            from mobility.gazetteer.matching import MATCH_NO_GAZETTEER

            raise ValidationError(MATCH_NO_GAZETTEER.format(country=country_iso3))
        self.max_level = max(
            AdminArea.objects.filter(version=version).values_list("level", flat=True).distinct() or [0]
        )
        self.matchers = {lvl: matcher_for(country_iso3, lvl) for lvl in range(1, min(self.max_level, 3) + 1)}
        self.locations = dict(Location.objects.filter(country_iso3=country_iso3).values_list("code", "pk"))
        self.review: list = []
        self.replaced: Counter = Counter()
        self.kept: Counter = Counter()

    def _known(self, code: str, level: int) -> str:
        matcher = self.matchers.get(level)
        if matcher is None or not code:
            return ""
        for candidate in [
            code,
            *(to + code[len(frm) :] for frm, to in self.prefix if code.upper().startswith(frm.upper())),
        ]:
            hit = matcher._pcode_upper.get(candidate.upper())
            if hit and matcher.areas[hit].level == level:
                return hit
        return ""

    def resolve(
        self, values: dict[str, str], depth: int
    ) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
        """({adminN_code: code}, [(column field, value, message)]) for admin levels 1..depth."""
        codes: dict[str, str] = {}
        problems = []
        parent = ""
        for level in range(1, depth + 1):
            code = values.get(f"admin{level}_code", "")
            name = values.get(f"admin{level}_name", "")
            if level > min(self.max_level, 3):
                if code or name:
                    codes[f"admin{level}_code"] = code or ""
                    if code:
                        self.kept[level] += 1
                continue
            known = self._known(code, level)
            if known:
                codes[f"admin{level}_code"] = known
                parent = known
                continue
            if not name and not code:
                if level < depth:
                    continue  # a higher level left out; the deeper code carries the place
                problems.append(
                    (f"admin{level}_code", "", PLACE_MISSING.format(what=f"admin{level} code or name"))
                )
                break
            result = self.matchers[level].match(name or code, parent=parent or None)
            if result.matched:
                codes[f"admin{level}_code"] = result.pcode
                parent = result.pcode
                if code:
                    self.replaced[f"{code}→{result.pcode}"] += 1
                continue
            if result.needs_review:
                self.review.append(result)
            field_name = f"admin{level}_name" if name else f"admin{level}_code"
            problems.append(
                (field_name, name or code, PCODE_UNMATCHED.format(value=name or code, country=self.country))
            )
            break
        return codes, problems

    def location_id(self, code: str) -> int | None:
        return self.locations.get(code)

    def record_review(self) -> None:
        from mobility.gazetteer.services import review_record

        if self.review:
            review_record(
                results=self.review, country_iso3=self.country, import_job=self.job, operation=self.operation
            )

    def warnings(self) -> list[str]:
        out = []
        if self.replaced:
            total = sum(self.replaced.values())
            examples = ", ".join(list(self.replaced)[:5])
            out.append(WARN_PCODE_REPLACED.format(count=total, country=self.country, examples=examples))
        for level, count in sorted(self.kept.items()):
            out.append(WARN_CODE_KEPT.format(count=count, level=level, country=self.country))
        return out


# --- applying a profile ---------------------------------------------------------------------------


@dataclass
class ImportContext:
    operation: Operation
    round: Round
    country_iso3: str
    job: object = None
    record_review: bool = True


def round_for(operation: Operation, number) -> Round:
    """The live version of a round number (the newest version not superseded)."""
    round_ = (
        Round.objects.filter(operation=operation, number=int(number))
        .exclude(status=Round.Status.SUPERSEDED)
        .order_by("-version")
        .first()
    )
    if round_ is None:
        raise ValidationError(ROUND_UNKNOWN.format(operation=operation.name, number=number))
    return round_


def _skip_patterns(profile: Profile) -> list[tuple[str, re.Pattern]]:
    rules = [
        (f, re.compile(DEFAULT_SKIP_PATTERN, re.I)) for f in PLACE_FIELDS if f.endswith(("_name", "_code"))
    ]
    rules += [(r.get("column", "*"), re.compile(r["matches"], re.I)) for r in profile.skip_rows_where]
    return rules


def _is_totals_row(values: dict[str, str], raw: dict[str, str], rules, place_code_field: str) -> bool:
    for fname, pattern in rules:
        texts = raw.values() if fname == "*" else [values.get(fname, "")]
        if any(t and pattern.search(t) for t in texts):
            return True
    # A row with numbers but no code for its place is a subtotal line.
    if (
        place_code_field
        and not values.get(place_code_field)
        and not any(values.get(f) for f in ("admin1_name", "admin2_name", "admin3_name", "site_name"))
    ):
        return any(values.get(f) for f in group_fields())
    return False


def profile_read(*, path: Path | str, profile: Profile, context: ImportContext, progress=None) -> ReadResult:
    """Map, validate and p-code every row of a workbook with a profile; records or row errors, never both."""
    table = mapped_table(workbook_sheets(path), profile)
    resolver = PlaceResolver(
        country_iso3=context.country_iso3,
        pcode_prefix=profile.pcode_prefix,
        job=context.job,
        operation=context.operation,
    )
    builder = RecordBuilder()
    errors: list[RowError] = []
    warnings: list[str] = []
    bands = profile.bands
    rules = _skip_patterns(profile)
    depth = 3 if profile.level == "site" else LEVELS[profile.level]
    code_field = "site_code" if profile.level == "site" else f"admin{depth}_code"
    if code_field not in profile.columns:
        code_field = ""
    first_row: dict[tuple, tuple[int, tuple]] = {}
    totals_rows: list[int] = []
    sadd_dropped: list[str] = []
    keyed_by_name: list[str] = []
    renumbered: list[str] = []
    if progress:
        progress.start(len(table.rows), "reading")
    default_date = _constant_date(profile) or context.round.end_date
    for number, raw in table.rows:
        if progress:
            progress.advance()
        values = {f: raw.get(normalise_header(c), "").strip() for f, c in profile.columns.items()}
        if not any(values.get(f) for f in group_fields()) and not any(
            values.get(f) for f in _place_fields(profile.level)
        ):
            continue
        if _is_totals_row(values, raw, rules, code_field):
            totals_rows.append(number)
            continue
        row_errors: list[RowError] = []

        def number_of(fname, _values=values, _errors=row_errors, _number=number, negative_ok=False):
            text = _values.get(fname, "")
            try:
                n = parse_count(text)
            except ValueError:
                _errors.append(
                    RowError(
                        _number, _column(profile, fname), NUMBER_INVALID.format(value=text[:50]), text[:50]
                    )
                )
                return None
            if n is not None and n < 0 and not negative_ok:
                _errors.append(
                    RowError(
                        _number, _column(profile, fname), NUMBER_NEGATIVE.format(value=text[:50]), text[:50]
                    )
                )
                return None
            return n

        figures = {}
        for group, prefix in GROUP_PREFIX.items():
            hh = number_of(f"{prefix}_households")
            ind = number_of(f"{prefix}_individuals")
            if f"{prefix}_individuals" in profile.columns and ind is not None:
                figures[group] = (hh, ind)
        codes, problems = resolver.resolve(values, depth)
        for fname, value, message in problems:
            row_errors.append(RowError(number, _column(profile, fname), message, value[:50]))
        try:
            reporting_date = (
                parse_date(values.get("reporting_date"), day_first=profile.day_first) or default_date
            )
        except ValueError:
            row_errors.append(
                RowError(
                    number,
                    _column(profile, "reporting_date"),
                    DATE_INVALID.format(value=values["reporting_date"][:50]),
                    values["reporting_date"][:50],
                )
            )
            reporting_date = default_date
        admin_level = depth
        if profile.level == "site":
            admin_level = max((lvl for lvl in (1, 2, 3) if codes.get(f"admin{lvl}_code")), default=0)
            place_key = values.get("site_code", "")
            if not place_key and values.get("site_name") and admin_level:
                # Sub-areas without a code (Burundi's collines): keyed by their area and name.
                place_key = site_key(codes[f"admin{admin_level}_code"], values["site_name"])
                keyed_by_name.append(place_key)
            if not place_key:
                row_errors.append(
                    RowError(
                        number, _column(profile, "site_code"), PLACE_MISSING.format(what="site code or name")
                    )
                )
        else:
            place_key = codes.get(f"admin{depth}_code", "")
        sadd, males, females = {}, number_of("idp_males"), number_of("idp_females")
        sadd_columns = [f for f in profile.columns if f.startswith(("idp_female_", "idp_male_"))]
        if sadd_columns and PopulationGroup.IDP in figures:
            # Negative parts are a sex-age problem (core.sadd), handled by the profile's sadd_mismatch.
            female = [number_of(f"idp_female_{b}", negative_ok=True) for b in bands.labels()]
            male = [number_of(f"idp_male_{b}", negative_ok=True) for b in bands.labels()]
            parts = Sadd.build(total=figures[PopulationGroup.IDP][1], bands=bands, female=female, male=male)
            problems = parts.problems() if any(p is not None for p in parts.parts) else []
            if problems and profile.sadd_mismatch == "error":
                row_errors.append(RowError(number, "idp sex and age", problems[0]))
            elif problems:
                sadd_dropped.append(f"row {number}: {problems[0]}")
            elif any(p is not None for p in parts.parts):
                sadd = {k: v for k, v in parts.as_dict().items() if k != "total"}
                if males is None and parts.is_complete:
                    males, females = parts.male_total, parts.female_total
        if row_errors:
            errors += row_errors
            continue
        if not figures:
            continue
        record = AssessmentRecord(
            operation_id=context.operation.pk,
            round_id=context.round.pk,
            assessment_type=profile.assessment_type,
            place_key=place_key[:64],
            country_iso3=context.country_iso3,
            admin_level=admin_level,
            reporting_date=reporting_date,
            admin1_code=codes.get("admin1_code", ""),
            admin2_code=codes.get("admin2_code", ""),
            admin3_code=codes.get("admin3_code", ""),
            location_id=resolver.location_id(place_key) if profile.level == "site" else None,
            provider_admin1_name=values.get("admin1_name", "")[:200],
            provider_admin2_name=values.get("admin2_name", "")[:200],
            provider_admin3_name=values.get("admin3_name", "")[:200],
            provider_location_name=values.get("site_name", "")[:200],
            key_informants=number_of("key_informants"),
            source=f"profile:{profile.name}"[:64],
            source_ref=f"row {number}",
            first_row=number,
        )
        signature = tuple(sorted((g, f) for g, f in figures.items()))
        seen = first_row.get(record.identity())
        if seen is not None and profile.duplicates == "number" and seen[1] != signature:
            # Two places share a code in the workbook: both are counted, the later one numbered.
            n = 2
            while first_row.get((*record.identity()[:2], f"{place_key}~{n}")):
                n += 1
            record.place_key = f"{place_key}~{n}"[:64]
            renumbered.append(f"row {number}: {place_key} → {record.place_key}")
            seen = None
        if seen is not None and profile.duplicates in ("error", "number"):
            if seen[1] != signature:
                errors.append(
                    RowError(
                        number,
                        _column(profile, code_field or "site_code"),
                        DUPLICATE_PLACE.format(place=place_key, first=seen[0]),
                        place_key,
                    )
                )
            continue
        first_row.setdefault(record.identity(), (number, signature))
        record = builder.record(record)
        reason_text = values.get("displacement_reason", "")
        for group, (hh, ind) in figures.items():
            is_idp = group == PopulationGroup.IDP
            part = None
            if is_idp and (
                reason_text or values.get("origin_admin1_name") or values.get("origin_admin1_code")
            ):
                part = BreakdownPart(
                    displacement_reason=reason_from_text(reason_text),
                    provider_reason=reason_text[:200],
                    origin_admin1_code=values.get("origin_admin1_code", "")[:32],
                    origin_admin1_name=values.get("origin_admin1_name", "")[:200],
                    origin_admin2_code=values.get("origin_admin2_code", "")[:32],
                    origin_admin2_name=values.get("origin_admin2_name", "")[:200],
                    individuals=ind,
                    households=hh,
                    source_ref=f"row {number}",
                )
            shelter = (
                {shelter_from_text(values["shelter_type"]): ind}
                if is_idp and values.get("shelter_type")
                else None
            )
            builder.add_figure(
                record,
                population_group=group,
                individuals=ind,
                households=hh,
                males=males if is_idp else None,
                females=females if is_idp else None,
                sadd=sadd if is_idp else None,
                shelter=shelter,
                part=part,
            )
    if context.record_review:
        resolver.record_review()
    if totals_rows:
        warnings.append(
            WARN_TOTALS_SKIPPED.format(count=len(totals_rows), rows=", ".join(map(str, totals_rows[:20])))
        )
    if sadd_dropped:
        warnings.append(WARN_SADD_DROPPED.format(count=len(sadd_dropped), first=sadd_dropped[0]))
    if renumbered:
        warnings.append(WARN_RENUMBERED.format(count=len(renumbered), examples="; ".join(renumbered[:5])))
    if keyed_by_name:
        warnings.append(WARN_SITE_KEYED.format(count=len(keyed_by_name), example=keyed_by_name[0]))
    warnings += resolver.warnings()
    records = builder.results()
    return ReadResult(data=records, rows_read=len(table.rows), errors=errors, warnings=warnings)


def site_key(area_code: str, name: str) -> str:
    """A stable key for a sub-area that has no code of its own: its area's p-code and its plain name."""
    return f"{area_code}:{normalise_column(name).upper().replace(' ', '-')}"[:64]


def _column(profile: Profile, fname: str) -> str:
    return profile.columns.get(fname, fname)


def _constant_date(profile: Profile) -> dt.date | None:
    value = profile.constants.get("reporting_date")
    return parse_date(value) if value else None


def records_totals(records: list[AssessmentRecord]) -> dict[str, int]:
    """Individuals per population group over the records (what a preview shows)."""
    totals: Counter = Counter()
    for record in records:
        for group, figure in record.figures.items():
            totals[group] += figure.individuals
    return dict(totals)


# --- suggestions ----------------------------------------------------------------------------------


SUGGESTION_MIN_SCORE = 80


def _mostly_text(values: list[str]) -> bool:
    filled = [v for v in values if v]
    bad = 0
    for v in filled:
        try:
            parse_count(v)
        except ValueError:
            bad += 1
    return bool(filled) and bad > len(filled) / 2


def column_suggestions(
    columns: list[str], fields: list[str] | None = None, *, samples: dict[str, list[str]] | None = None
) -> dict[str, tuple[str, float]]:
    """For each vocabulary field, the workbook column that looks most like it (score 0-100), one column per field.

    With ``samples`` (column → first values), a column of words ("Oui"/"Non") is never suggested for a count.
    """
    from rapidfuzz import fuzz

    fields = fields or vocabulary_fields()
    normal = {c: normalise_column(c) for c in columns}
    counts = set(group_fields()) | set(sadd_fields()) | {"key_informants"}
    wordy = {c for c, values in (samples or {}).items() if _mostly_text(values)}
    scored = []
    for fname in fields:
        forms = {normalise_column(fname), *(normalise_column(s) for s in SYNONYMS.get(fname, []))}
        for column, plain in normal.items():
            if not plain or (fname in counts and column in wordy):
                continue
            score = max(
                max(
                    fuzz.ratio(plain, f),
                    # A subset of words scores below an exact name: "total idps" is not "total idps hh".
                    min(95.0, fuzz.token_set_ratio(plain, f)) - (5 if len(plain) > len(f) + 12 else 0),
                )
                for f in forms
                if f
            )
            if plain in forms:
                score = 100.0
            if score >= SUGGESTION_MIN_SCORE:
                scored.append((score, fname, column))
    # Greedy: best pairs first, each field and each column used once.
    out: dict[str, tuple[str, float]] = {}
    used = set()
    for score, fname, column in sorted(scored, key=lambda t: (-t[0], fields.index(t[1]))):
        if fname in out or column in used:
            continue
        out[fname] = (column, score)
        used.add(column)
    return out


def workbook_outline(path: Path | str, *, sheet: str | None = None) -> dict:
    """What the mapping page shows before anything is mapped: sheets, chosen sheet, header row, columns, suggestions."""
    sheets = workbook_sheets(path)
    chosen = next((s for s in sheets if s.name == sheet), None) if sheet else None
    if chosen is None:
        # The sheet whose header resembles the vocabulary most.
        def fit(s: Sheet) -> float:
            if not s.rows:
                return -1
            header = detect_header(s.rows)
            return len(column_suggestions(header_columns(s.rows[header - 1]))) + len(s.rows) / 1e6

        chosen = max(sheets, key=fit)
    header = detect_header(chosen.rows) if chosen.rows else 1
    return outline_at(chosen, header, [s.name for s in sheets])


def outline_at(sheet: Sheet, header: int, sheet_names: list[str]) -> dict:
    """The outline of one sheet read with a given header row."""
    columns = header_columns(sheet.rows[header - 1]) if sheet.rows else []
    data = [r for r in sheet.rows[header : header + 30] if any(r) and not hxl_like(r)]
    samples = {c: [r[i] if i < len(r) else "" for r in data] for i, c in enumerate(columns)}
    suggestions = column_suggestions(columns, samples=samples)
    level = next(
        (
            lvl
            for lvl, f in (("site", "site_code"), ("admin3", "admin3_code"), ("admin2", "admin2_code"))
            if f in suggestions
        ),
        "admin1" if "admin1_code" in suggestions else "admin2",
    )
    if level != "site" and "site_name" in suggestions and "admin3_code" not in suggestions:
        level = "site"
    return {
        "sheets": sheet_names,
        "sheet": sheet.name,
        "header_row": header,
        "columns": columns,
        "suggestions": suggestions,
        "level": level,
        "data_rows": max(0, len(sheet.rows) - header),
    }


# --- stored profiles ------------------------------------------------------------------------------


def builtin_profiles() -> dict[str, dict]:
    """The shipped profiles: name → {"label", "country", "mapping"...} from data/profiles/*.json."""
    out = {}
    for path in sorted(BUILTIN_DIR.glob("*.json")):
        out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return out


@transaction.atomic
def builtin_profiles_load() -> dict[str, int]:
    """Store (or refresh) the shipped profiles as built-in SourceProfiles; counts of created/updated/unchanged."""
    counts = Counter(created=0, updated=0, unchanged=0)
    for name, spec in builtin_profiles().items():
        mapping = spec["mapping"]
        Profile.from_mapping(mapping, name=name)
        wanted = {
            "label": spec["label"],
            "country_iso3": mapping.get("constants", {}).get("country", ""),
            "assessment_type": mapping.get("constants", {}).get(
                "assessment_type", AssessmentType.BASELINE_AREA
            ),
            "mapping": mapping,
            "built_in": True,
        }
        existing = SourceProfile.objects.filter(name=name).first()
        if existing is None:
            SourceProfile.objects.create(name=name, **wanted)
            counts["created"] += 1
        elif any(getattr(existing, k) != v for k, v in wanted.items()):
            for k, v in wanted.items():
                setattr(existing, k, v)
            existing.save()
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    return dict(counts)


def profile_get(name: str) -> SourceProfile:
    """A stored profile by name; the shipped ones are loaded the first time one is asked for."""
    found = SourceProfile.objects.filter(name=name).first()
    if found is None and name in builtin_profiles():
        builtin_profiles_load()
        found = SourceProfile.objects.filter(name=name).first()
    if found is None:
        raise ValidationError(PROFILE_UNKNOWN.format(name=name))
    return found


@transaction.atomic
def profile_save(
    *, name: str, label: str, mapping: dict, operation: Operation | None = None, by=None
) -> SourceProfile:
    """Validate and store a user's profile (a new name, or an update of their own non-built-in one)."""
    from mobility.core.services import audit_record

    Profile.from_mapping(mapping, name=name)
    existing = SourceProfile.objects.filter(name=name).first()
    if existing is not None and existing.built_in:
        raise ValidationError(PROFILE_BUILTIN_READONLY.format(name=name))
    profile = existing or SourceProfile(name=name)
    profile.label = label
    profile.operation = operation
    profile.mapping = mapping
    profile.country_iso3 = (
        mapping.get("constants", {}).get("country") or (operation.country_iso3 if operation else "")
    )[:3]
    profile.assessment_type = mapping.get("constants", {}).get(
        "assessment_type", AssessmentType.BASELINE_AREA
    )
    profile.full_clean()
    profile.save()
    audit_record(action="tracking.profile_save", obj=profile, by=by, operation=operation)
    return profile


PROFILE_BUILTIN_READONLY = (
    'The profile "{name}" is shipped with Mobility and cannot be changed; save under another name.'
)


def context_for_job(job) -> ImportContext:
    """Operation, round and country of an import job from job.profile {"operation", "round"}."""
    params = job.profile or {}
    operation = job.operation
    if params.get("operation"):
        operation = (
            Operation.objects.filter(pk=params["operation"]).first()
            or Operation.objects.filter(slug=str(params["operation"])).first()
            or Operation.objects.filter(name=str(params["operation"])).first()
        )
    if operation is None:
        raise ValidationError(OPERATION_MISSING)
    if not params.get("round"):
        raise ValidationError(ROUND_UNKNOWN.format(operation=operation.name, number="(none given)"))
    round_ = round_for(operation, params["round"])
    return ImportContext(operation=operation, round=round_, country_iso3="", job=job)


PREVIEW_ROWS = 10


def profile_preview(path: Path | str, profile: Profile, *, limit: int = PREVIEW_ROWS) -> dict:
    """What the mapping page shows: the first mapped rows, totals per mapped figure, and skipped totals rows.

    No p-code is checked here (that needs the operation's gazetteer and happens on import).
    """
    table = mapped_table(workbook_sheets(path), profile)
    rules = _skip_patterns(profile)
    code_field = "site_code" if profile.level == "site" else f"admin{LEVELS[profile.level]}_code"
    if code_field not in profile.columns:
        code_field = ""
    figure_fields = [f for f in group_fields() if f in profile.columns]
    totals: Counter = Counter({f: 0 for f in figure_fields})
    rows, skipped, bad, places = [], [], 0, 0
    for number, raw in table.rows:
        values = {f: raw.get(normalise_header(c), "").strip() for f, c in profile.columns.items()}
        if not any(values.get(f) for f in figure_fields) and not any(
            values.get(f) for f in _place_fields(profile.level)
        ):
            continue
        if _is_totals_row(values, raw, rules, code_field):
            skipped.append(number)
            continue
        places += 1
        for f in figure_fields:
            try:
                totals[f] += parse_count(values.get(f)) or 0
            except ValueError:
                bad += 1
        if len(rows) < limit:
            rows.append((number, [values.get(f, "") for f in profile.columns]))
    return {
        "sheet": table.sheet,
        "header_row": table.header_row,
        "fields": list(profile.columns),
        "rows": rows,
        "totals": dict(totals),
        "places": places,
        "skipped": skipped,
        "unreadable_numbers": bad,
    }
