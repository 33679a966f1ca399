"""Column suggestions: which workbook column looks like which vocabulary field (synonyms, fuzzy match)."""

from __future__ import annotations

from .mapping import group_fields, sadd_fields, vocabulary_fields
from .parsing import normalise_column, parse_count

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
