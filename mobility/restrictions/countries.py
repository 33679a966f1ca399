"""Country names as sources write them → ISO3 codes (or a named region), with nothing guessed.

Travel restriction sources name countries in free text: "Turkey", "Cape Verde", "Pak- istan"
(hyphenated by a PDF), "CÃ´te dâ€™Ivoire" (mojibake), "Virgin Islands, British" (an official name
with a comma inside a comma-separated list). ``CountryMatcher`` matches such names against the
shipped ISO 3166 table (``gazetteer.services.versions.countries()``) and an alias table
(``data/country_aliases.json``), exactly, after normalisation: no fuzzy matching, because a wrong
country in a restriction matrix is worse than a name left for a person to read. What does not match
is returned as unmatched, so importers can report it with counts.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from mobility.gazetteer.services.versions import countries

DATA = Path(__file__).resolve().parent / "data"
ALIASES_JSON = DATA / "country_aliases.json"
REGIONS_JSON = DATA / "regions.json"

REGION_PREFIX = "region:"


@dataclass(frozen=True)
class Match:
    """One target: a country (``iso3``) or a region (``region``)."""

    iso3: str = ""
    region: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.iso3, self.region)


@dataclass
class ListMatch:
    """What a list of names matched: targets in order (no repeats) and the names left unmatched."""

    matches: list[Match] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

    def add(self, match: Match) -> None:
        if match not in self._seen:
            self._seen.add(match)
            self.matches.append(match)

    def __post_init__(self):
        self._seen = set(self.matches)


def _unmojibake(text: str) -> list[str]:
    """The text and its repairs when it looks like UTF-8 read as cp1252 or Mac Roman."""
    out = [text]
    if any(ord(c) > 127 for c in text):
        for codec in ("cp1252", "mac_roman", "latin_1"):
            try:
                fixed = text.encode(codec).decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
            if fixed not in out:
                out.append(fixed)
    return out


_ST = re.compile(r"\bst\.?\s+", re.IGNORECASE)
_LEADING = re.compile(r"^(?:the|and|or|&)\s+", re.IGNORECASE)


def name_key(text: str) -> str:
    """Lower-case ASCII letters only: "Pak- istan", "Pakistan." and "PAKISTAN" share a key."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("&", " and ")
    text = _ST.sub("saint ", text.strip())
    for _ in range(2):
        text = _LEADING.sub("", text.strip())
    return "".join(c for c in text.lower() if "a" <= c <= "z")


def _before_paren(text: str) -> str:
    return text.split("(", 1)[0]


def split_names(text: str) -> list[str]:
    """Split a list on commas and semicolons, but not inside parentheses."""
    parts, depth, current = [], 0, []
    for char in text or "":
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        if char in ",;\n" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


_JOINERS = re.compile(r"\s+(?:and|or|&)\s+|\.\s+|/|;", re.IGNORECASE)


@functools.cache
def _aliases() -> dict[str, str]:
    raw = json.loads(ALIASES_JSON.read_text(encoding="utf-8"))
    return {name_key(name): value for name, value in raw["aliases"].items()}


@functools.cache
def region_members() -> dict[str, frozenset[str]]:
    """Region name → ISO3 codes of its members (only for regions whose membership is fixed and known)."""
    raw = json.loads(REGIONS_JSON.read_text(encoding="utf-8"))
    return {name: frozenset(info["members"]) for name, info in raw["regions"].items()}


def regions_of(iso3: str) -> list[str]:
    """The regions (of ``regions.json``) a country belongs to."""
    return sorted(name for name, members in region_members().items() if iso3 in members)


def country_name(iso3: str) -> str:
    """The English name of an ISO3 code ("" when unknown)."""
    entry = countries().get((iso3 or "").upper())
    return entry[1] if entry else ""


@functools.cache
def _index() -> dict[str, Match]:
    index: dict[str, Match] = {}
    for iso3, (_iso2, name) in countries().items():
        for variant in (name, _before_paren(name)):
            index.setdefault(name_key(variant), Match(iso3=iso3))
    for key, value in _aliases().items():
        if value.startswith(REGION_PREFIX):
            index[key] = Match(region=value.removeprefix(REGION_PREFIX))
        else:
            index[key] = Match(iso3=value)
    index.pop("", None)
    return index


class CountryMatcher:
    """Matches names and lists of names; ``extra`` adds source-specific names (e.g. a profile's)."""

    MAX_JOIN = 4  # an official name holds at most this many comma-separated parts

    def __init__(self, extra: dict[str, str] | None = None):
        # Sources repeat the same lists thousands of times: answers are cached per text.
        self._exact_cache: dict[str, Match | None] = {}
        self._names_cache: dict[str, ListMatch] = {}
        self.index = dict(_index())
        for name, value in (extra or {}).items():
            key = name_key(name)
            if value.startswith(REGION_PREFIX):
                self.index[key] = Match(region=value.removeprefix(REGION_PREFIX))
            else:
                self.index[key] = Match(iso3=value)

    def _exact(self, text: str) -> Match | None:
        if text in self._exact_cache:
            return self._exact_cache[text]
        found = None
        for candidate in _unmojibake(text):
            for variant in (candidate, _before_paren(candidate)):
                key = name_key(variant)
                if key and key in self.index:
                    found = self.index[key]
                    break
            if found:
                break
        self._exact_cache[text] = found
        return found

    def one(self, text: str) -> list[Match] | None:
        """The target(s) one list item names, or None when it matches nothing.

        Tries the whole item, then the item split on "and"/"or"/"/"/". ", then the item cut in two
        at each space ("Algeria Senegal"): a split counts only when every part matches.
        """
        exact = self._exact(text)
        if exact:
            return [exact]
        for candidate in _unmojibake(text):
            parts = [p for p in _JOINERS.split(candidate) if p and p.strip(" .")]
            if len(parts) > 1:
                matched = [self._exact(p) for p in parts]
                if all(matched):
                    return matched
            words = candidate.split()
            for i in range(1, len(words)):
                left, right = self._exact(" ".join(words[:i])), self._exact(" ".join(words[i:]))
                if left and right:
                    return [left, right]
        return None

    def names(self, text: str) -> ListMatch:
        """Match a comma/semicolon separated list, re-joining official names that hold a comma."""
        if text not in self._names_cache:
            self._names_cache[text] = self._names(text)
        cached = self._names_cache[text]
        return ListMatch(matches=list(cached.matches), unmatched=list(cached.unmatched))

    def _names(self, text: str) -> ListMatch:
        parts = split_names(text)
        result = ListMatch()
        i = 0
        while i < len(parts):
            # The longest run of parts that is itself a name wins ("Virgin Islands, British").
            for width in range(min(self.MAX_JOIN, len(parts) - i), 1, -1):
                joined = self._exact(", ".join(parts[i : i + width]))
                if joined:
                    result.add(joined)
                    i += width
                    break
            else:
                found = self.one(parts[i])
                if found:
                    for match in found:
                        result.add(match)
                else:
                    result.unmatched.append(parts[i])
                i += 1
        return result
