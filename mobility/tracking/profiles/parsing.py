"""Cell text as workbooks write it: counts, dates, column names, displacement reasons and shelter types."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from mobility.core.tables import MAX_COUNT

from ..models import ShelterType
from ..reasons import reason_map

BLANK_NUMBERS = {"", "-", "–", "—", "n/a", "na", "nd", "n.d.", "none", "null", "."}
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']")
_THOUSANDS_COMMA = re.compile(r"^-?\d{1,3}(,\d{3})+$")
_THOUSANDS_DOT = re.compile(r"^-?\d{1,3}(\.\d{3}){2,}$")
_DECIMAL_ZERO = re.compile(r"^(-?\d+)[.,]0+$")


class CountTooLarge(ValueError):
    """A whole number larger than any count the database stores."""


def count_checked(number: int | None, text) -> int | None:
    """The number, or CountTooLarge when no database column of counts could hold it."""
    if number is not None and abs(number) > MAX_COUNT:
        raise CountTooLarge(text)
    return number


def parse_count(text) -> int | None:
    """A count as people write it: "1 234", "1,234", "1234.0" → 1234; "", "-" → None. Raises ValueError.

    Readers that store the count pass it through ``count_checked``.
    """
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


def reason_from_text(text: str) -> str:
    """The controlled displacement reason for a source's free text (``tracking.reasons.reason_map``, the one mapping)."""
    return reason_map(text)[0]


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
