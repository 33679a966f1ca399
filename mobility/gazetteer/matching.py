"""Match free-text place names to p-codes: normalise, then exact → known alias → fuzzy.

The matcher never guesses silently. A fuzzy candidate is accepted only when it scores at least
``MOBILITY["MATCH_THRESHOLD"]`` and the runner-up (another area) is at least
``MOBILITY["MATCH_MARGIN"]`` points behind; otherwise the result is ``ambiguous`` or ``unmatched``
and carries its candidates, so that a person can decide (the review list).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA
from unidecode import unidecode

MAX_NAME_CHARS = 200  # the longest key we return (AreaAlias.normalized / MatchReview.normalized)
CANDIDATES_KEPT = 5
CANDIDATE_FLOOR = 50.0  # candidates scoring below this are not worth showing to a reviewer
RESULT_CACHE_SIZE = 200_000

MATCH_NO_GAZETTEER = "There is no current gazetteer for {country}; import its p-code table first."
MATCH_LEVEL_INVALID = "Admin level {level} cannot be matched; choose a level from 1 to {max_level}."
MATCH_LEVEL_EMPTY = "The {country} gazetteer has no areas at admin level {level}."


class MatchStatus(StrEnum):
    EXACT = "exact"
    ALIAS = "alias"
    FUZZY = "fuzzy"
    AMBIGUOUS = "ambiguous"
    UNMATCHED = "unmatched"


MATCHED = frozenset({MatchStatus.EXACT, MatchStatus.ALIAS, MatchStatus.FUZZY})

# --- normalisation ------------------------------------------------------------------------------

# Words that say what kind of area a name is, not which one ("Distrito de Ancuabe", "Bagh Tehsil").
# Longest first, so that "posto administrativo de" wins over "posto administrativo".
_AREA_TYPE_PHRASES = sorted(
    {
        # English
        "district of",
        "district",
        "sub district",
        "subdistrict",
        "province of",
        "province",
        "region",
        "county",
        "municipality of",
        "municipality",
        "division",
        "agency",
        "governorate",
        # Portuguese
        "distrito de",
        "distrito do",
        "distrito da",
        "distrito",
        "provincia de",
        "provincia do",
        "provincia da",
        "provincia",
        "posto administrativo de",
        "posto administrativo do",
        "posto administrativo da",
        "posto administrativo",
        "posto",
        "pa",
        "cidade de",
        "cidade do",
        "cidade da",
        "municipio de",
        "municipio do",
        "municipio da",
        "municipio",
        "localidade de",
        "localidade",
        # French
        "district de",
        "province de",
        "departement de",
        "departement du",
        "departement",
        "region de",
        "region du",
        "commune de",
        "commune",
        "prefecture de",
        "prefecture",
        "sous prefecture de",
        "cercle de",
        "arrondissement de",
        # Spanish
        "departamento de",
        "departamento del",
        "departamento",
        "provincia del",
        "municipio del",
        # Urdu / Pakistani English transliteration
        "tehsil",
        "tahsil",
        "tehseel",
        "taluka",
        "taluqa",
        "zila",
        "zilla",
        "zillah",
        "ilaqa",
        "tribal agency",
    },
    key=lambda p: (-len(p), p),
)
_PREFIX_RE = re.compile(r"^(?:" + "|".join(re.escape(p) for p in _AREA_TYPE_PHRASES) + r") ")
_SUFFIX_RE = re.compile(r" (?:" + "|".join(re.escape(p) for p in _AREA_TYPE_PHRASES) + r")$")

# Word endings that field data writes both joined and apart ("Muzaffar Abad", "Khan Pur").
_JOINED_ENDINGS = ("abad", "pur", "pura", "kot", "garh", "wala", "wali", "nagar", "zai", "kel", "shah")
_JOIN_RE = re.compile(r"(?<=[a-z0-9]) (" + "|".join(_JOINED_ENDINGS) + r")\b")

# Transliteration variants of the same sound (mostly Urdu/Pashto names in Latin letters). Applied to
# every name on both sides, so they only have to be consistent, not linguistically right.
_FOLDS = (
    (re.compile(r"ph"), "f"),
    (re.compile(r"([bdgjkt])h"), r"\1"),  # aspirates: kh/k, gh/g, th/t, dh/d, bh/b, jh/j
    (re.compile(r"ck"), "k"),
    (re.compile(r"q"), "k"),
    (re.compile(r"ee"), "i"),
    (re.compile(r"oo"), "u"),
    (re.compile(r"ou"), "u"),
    (re.compile(r"([a-z])\1+"), r"\1"),  # doubled letters: Muzaffarabad / Muzafarabad
)
_APOSTROPHES = re.compile(r"['`´‘’ʼʻ]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_SINGLE_LETTERS = re.compile(r"\b([a-z])((?: [a-z]\b)+)")


def _plain(text: Any) -> str:
    text = unicodedata.normalize("NFKC", str(text or ""))
    # unidecode handles accents and other scripts; truncating after it bounds every later step,
    # none of which makes the text longer.
    text = unidecode(text)[:MAX_NAME_CHARS].lower()
    text = _APOSTROPHES.sub("", text)  # M'Tamba → mtamba, N'Cumpe → ncumpe
    text = _NON_ALNUM.sub(" ", text).strip()
    return _join_letters(text)


def _join_letters(text: str) -> str:
    # "D. I. Khan" and "DI Khan" are the same place.
    return _SINGLE_LETTERS.sub(lambda m: m.group(1) + m.group(2).replace(" ", ""), text)


def simplify_name(text: Any) -> str:
    """Case, accents, punctuation and spaces only: the form in which names are compared first."""
    return _plain(text)


def _strip_area_type(text: str) -> str:
    while True:
        shorter = _PREFIX_RE.sub("", text, count=1)
        shorter = _SUFFIX_RE.sub("", shorter, count=1)
        if shorter == text or not shorter.strip():
            return text
        text = shorter


def _strip_steps(plain: str) -> list[str]:
    """The name, then without one area-type word at either end, then two...: least stripped first."""
    forms, frontier = [plain], [plain]
    while frontier and len(forms) < 12:
        nxt = []
        for text in frontier:
            for pattern in (_PREFIX_RE, _SUFFIX_RE):
                shorter = pattern.sub("", text, count=1)
                if shorter != text and shorter.strip() and shorter not in forms:
                    forms.append(shorter)
                    nxt.append(shorter)
        frontier = nxt
    return forms


def strip_area_type(text: Any) -> str:
    """The simplified name without words such as "Distrito de" or "Tehsil" (kept when nothing else is left)."""
    return _strip_area_type(_plain(text))


_ROMAN = {
    r: str(n)
    for n, r in enumerate(
        "i ii iii iv v vi vii viii ix x xi xii xiii xiv xv xvi xvii xviii xix xx".split(), start=1
    )
}


def _fold_word(word: str) -> str:
    for pattern, repl in _FOLDS:
        word = pattern.sub(repl, word)
    return word


def _fold(text: str) -> str:
    words = text.split()
    # "Town-II" is not "Town-I": a roman numeral after the first word becomes a number, never folded.
    words = words[:1] + [_ROMAN.get(w, w) for w in words[1:]]
    return _JOIN_RE.sub(r"\1", " ".join(w if w.isdigit() else _fold_word(w) for w in words))


def normalize_name(text: Any) -> str:
    """The matching key of a name: case, accents, punctuation, area-type words and spelling variants folded.

    "Distrito de Ancuabe" → "ancuabe"; "Muzaffar Abad Tehsil" → "muzafarabad"; "Zambézia" → "zambezia".
    Distinguishing words such as "Sede", "City" or "Town" are kept. Never raises; at most
    ``MAX_NAME_CHARS`` characters.
    """
    text = _plain(text)
    # Folding can reveal an area-type word (or hide one), so repeat until nothing changes: this
    # makes the function idempotent, which the stored keys rely on.
    for _ in range(20):
        folded = _join_letters(_fold(_strip_area_type(text)))
        if folded == text:
            break
        text = folded
    return text


# --- results ------------------------------------------------------------------------------------


@dataclass
class MatchResult:
    """What the matcher decided for one name; ``codes`` holds admin1_code… down to the level asked."""

    status: MatchStatus
    query: str
    normalized: str
    level: int
    pcode: str = ""
    score: float = 0.0
    matched_name: str = ""
    codes: dict[str, str] = field(default_factory=dict)
    candidates: list[dict] = field(default_factory=list)
    parent_pcode: str = ""  # the parent the name was matched under ("" when none was given or found)
    parent_query: str = ""
    parent_status: str = ""  # how the parent itself was matched, when it was given as a name

    @property
    def matched(self) -> bool:
        return self.status in MATCHED

    @property
    def needs_review(self) -> bool:
        return not self.matched and bool(self.normalized)

    def __getattr__(self, name: str) -> str:
        # admin1_code, admin2_code, ... read from `codes` ("" above the matched level or when unmatched)
        if name.startswith("admin") and name.endswith("_code"):
            return self.__dict__.get("codes", {}).get(name, "")
        raise AttributeError(name)

    def row(self) -> dict[str, str]:
        """The columns the CLI and importers add: admin codes, match_status, match_score, matched_name."""
        out = {f"admin{n}_code": self.codes.get(f"admin{n}_code", "") for n in range(1, self.level + 1)}
        out["match_status"] = str(self.status)
        out["match_score"] = f"{self.score:.1f}" if self.score else ""
        out["matched_name"] = self.matched_name
        return out


@dataclass(frozen=True)
class _Area:
    pcode: str
    level: int
    name: str
    parent: str  # parent p-code
    ancestors: tuple[str, ...]  # p-codes from admin1 down to this area (itself last)


# --- the matcher --------------------------------------------------------------------------------


class AreaMatcher:
    """Matches names at one admin level of one country's current gazetteer; build once, call often.

    Areas and aliases are loaded into memory when it is built; aliases created afterwards are seen
    by a new matcher (``matcher_for`` builds one when they change).
    """

    def __init__(self, country_iso3: str, level: int, *, version=None, threshold=None, margin=None):
        from .models import MAX_ADMIN_LEVEL, AdminArea, AreaAlias, GazetteerVersion

        self.country_iso3 = country_iso3.strip().upper()
        if not 1 <= int(level) <= MAX_ADMIN_LEVEL:
            raise ValidationError(MATCH_LEVEL_INVALID.format(level=level, max_level=MAX_ADMIN_LEVEL))
        self.level = int(level)
        if version is None:
            version = GazetteerVersion.objects.filter(country_iso3=self.country_iso3, is_current=True).first()
            if version is None:
                raise ValidationError(MATCH_NO_GAZETTEER.format(country=self.country_iso3))
        self.version = version
        conf = settings.MOBILITY
        self.threshold = float(conf["MATCH_THRESHOLD"] if threshold is None else threshold)
        self.margin = float(conf["MATCH_MARGIN"] if margin is None else margin)

        rows = list(
            AdminArea.objects.filter(version=version, level__lte=self.level, level__gte=1).values_list(
                "id", "pcode", "level", "name", "names", "parent_id"
            )
        )
        by_id = {r[0]: r for r in rows}
        self.areas: dict[str, _Area] = {}
        ancestors_of: dict[int, tuple[str, ...]] = {}

        def chain(area_id: int) -> tuple[str, ...]:
            if area_id not in ancestors_of:
                row = by_id.get(area_id)
                if row is None:
                    return ()
                ancestors_of[area_id] = (chain(row[5]) if row[5] else ()) + (row[1],)
            return ancestors_of[area_id]

        for area_id, pcode, lvl, name, _names, parent_id in sorted(rows, key=lambda r: r[2]):
            parent = by_id[parent_id][1] if parent_id in by_id else ""
            self.areas[pcode] = _Area(pcode, lvl, name, parent, chain(area_id))
        self._pcode_upper = {p.upper(): p for p in self.areas}

        level_rows = [r for r in rows if r[2] == self.level]
        if not level_rows:
            raise ValidationError(MATCH_LEVEL_EMPTY.format(country=self.country_iso3, level=self.level))
        # Three exact indexes, from strictest to loosest (see match()).
        self._by_plain: dict[str, list[str]] = defaultdict(list)
        self._by_key: dict[str, list[str]] = defaultdict(list)
        # Fuzzy choices: one entry per (area, spelling); several spellings when names has languages.
        self._choice_keys: list[str] = []
        self._choice_pcodes: list[str] = []
        for _, pcode, _, name, names, _ in level_rows:
            spellings = {name, *(v for v in (names or {}).values() if isinstance(v, str) and v.strip())}
            for spelling in spellings:
                plain, key = _plain(spelling), normalize_name(spelling)
                if plain and pcode not in self._by_plain[plain]:
                    self._by_plain[plain].append(pcode)
                if key and pcode not in self._by_key[key]:
                    self._by_key[key].append(pcode)
                # The full spelling is a choice too, so "Cidade de Pemba" stays apart from "Pemba".
                for form in {key, _fold(plain)}:
                    if form:
                        self._choice_keys.append(form)
                        self._choice_pcodes.append(pcode)
        self._choice_pcodes_arr = np.array(self._choice_pcodes, dtype=object)
        self._choices_under: dict[str, np.ndarray] = {}

        # Aliases: key → [(pcode, parent_pcode)], skipping p-codes this edition no longer has.
        self._aliases: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for normalized, pcode, parent_pcode in AreaAlias.objects.filter(
            country_iso3=self.country_iso3, level=self.level
        ).values_list("normalized", "pcode", "parent_pcode"):
            if pcode in self.areas and self.areas[pcode].level == self.level:
                self._aliases[normalized].append((pcode, parent_pcode))

        self._parent_matcher: AreaMatcher | None = None
        self._cache: dict[tuple[str, str], MatchResult] = {}

    # -- public ----------------------------------------------------------------------------------

    def match(self, name: Any, *, parent: Any = None) -> MatchResult:
        """Match one name, optionally under a parent given as a p-code or a name (matched one level up)."""
        name_text = "" if name is None else str(name)
        parent_text = "" if parent is None else str(parent).strip()
        cache_key = (name_text, parent_text)
        cached = self._cache.get(cache_key)
        if cached is None:
            cached = self._match(name_text, parent_text)
            if len(self._cache) >= RESULT_CACHE_SIZE:
                self._cache.clear()
            self._cache[cache_key] = cached
        # A fresh copy, so that callers may change theirs.
        return MatchResult(
            **{**cached.__dict__, "codes": dict(cached.codes), "candidates": list(cached.candidates)}
        )

    def match_many(self, names, parents=None) -> list[MatchResult]:
        """Match a list of names (and parents, one per name); repeated names cost one lookup."""
        if parents is None:
            return [self.match(n) for n in names]
        return [self.match(n, parent=p) for n, p in zip(names, parents, strict=True)]

    def area_name(self, pcode: str) -> str:
        area = self.areas.get(pcode)
        return area.name if area else ""

    def codes_for(self, pcode: str) -> dict[str, str]:
        """admin1_code… for an area, from its parent chain."""
        area = self.areas[pcode]
        return {f"admin{n}_code": code for n, code in enumerate(area.ancestors, start=1)}

    # -- internals -------------------------------------------------------------------------------

    def _resolve_parent(self, parent_text: str) -> tuple[str, str]:
        """(parent p-code or "", how it was found)."""
        if not parent_text or self.level == 1:
            return "", ""
        pcode = self._pcode_upper.get(parent_text.upper())
        if pcode and self.areas[pcode].level < self.level:
            return pcode, "pcode"
        if self._parent_matcher is None:
            self._parent_matcher = AreaMatcher(
                self.country_iso3,
                self.level - 1,
                version=self.version,
                threshold=self.threshold,
                margin=self.margin,
            )
        result = self._parent_matcher.match(parent_text)
        return (result.pcode if result.matched else ""), str(result.status)

    def _under(self, pcodes, parent: str) -> list[str]:
        if not parent:
            return list(pcodes)
        return [p for p in pcodes if parent in self.areas[p].ancestors[:-1]]

    def _result(
        self, status, base: dict, pcode: str = "", score: float = 0.0, candidates=None
    ) -> MatchResult:
        if pcode:
            base.update(pcode=pcode, matched_name=self.areas[pcode].name, codes=self.codes_for(pcode))
        return MatchResult(status=status, score=round(float(score), 1), candidates=candidates or [], **base)

    def _candidate(self, pcode: str, score: float) -> dict:
        area = self.areas[pcode]
        return {
            "pcode": pcode,
            "name": area.name,
            "score": round(float(score), 1),
            "parent_pcode": area.parent,
        }

    def _match(self, name_text: str, parent_text: str) -> MatchResult:
        plain = _plain(name_text)
        key = normalize_name(name_text)
        parent, parent_status = self._resolve_parent(parent_text)
        base = {
            "query": name_text,
            "normalized": key,
            "level": self.level,
            "parent_pcode": parent,
            "parent_query": parent_text,
            "parent_status": parent_status,
        }
        if not key:
            return self._result(MatchStatus.UNMATCHED, base)

        # 1. Exact: the simplified name, then the full key. When the key hits several areas, prefer
        # the ones whose own name is the query without its area-type words ("Distrito de Pemba"
        # is Pemba, not "Cidade de Pemba").
        hits: list[str] = []
        for form in _strip_steps(plain):
            hits = self._under(self._by_plain.get(form, ()), parent)
            if hits:
                break
        if not hits:
            hits = self._under(self._by_key.get(key, ()), parent)
        if len(hits) == 1:
            return self._result(MatchStatus.EXACT, base, hits[0], 100.0)

        # 2. A known alias; one learned under a parent applies only under that parent.
        alias_hits = sorted(
            {
                pcode
                for pcode, alias_parent in self._aliases.get(key, ())
                if (alias_parent == parent if alias_parent else True)
                and (not parent or self._under([pcode], parent))
            }
        )
        if len(alias_hits) == 1:
            return self._result(MatchStatus.ALIAS, base, alias_hits[0], 100.0)
        if len(hits) > 1 or len(alias_hits) > 1:
            # The same name under several parents, and no parent to tell them apart.
            tied = sorted(set(hits) | set(alias_hits))
            return self._result(
                MatchStatus.AMBIGUOUS, base, score=100.0, candidates=[self._candidate(p, 100.0) for p in tied]
            )

        # 3. Fuzzy, among the parent's children when a parent is known.
        ranked = self._fuzzy(_query_forms(plain, key), parent)
        if not ranked:
            return self._result(MatchStatus.UNMATCHED, base, candidates=self._outside_parent(key, parent))
        best_pcode, best = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        shown = [self._candidate(p, s) for p, s in ranked[:CANDIDATES_KEPT] if s >= CANDIDATE_FLOOR]
        if best >= self.threshold and best - runner_up >= self.margin:
            return self._result(MatchStatus.FUZZY, base, best_pcode, best, shown)
        if best >= self.threshold:
            return self._result(MatchStatus.AMBIGUOUS, base, score=best, candidates=shown)
        shown += [
            c for c in self._outside_parent(key, parent) if c["pcode"] not in {s["pcode"] for s in shown}
        ]
        return self._result(MatchStatus.UNMATCHED, base, score=best, candidates=shown[:CANDIDATES_KEPT])

    def _choices(self, parent: str) -> np.ndarray:
        """Indexes of the fuzzy choices under a parent (all of them when there is none)."""
        if parent not in self._choices_under:
            if not parent:
                idx = np.arange(len(self._choice_keys))
            else:
                idx = np.array(
                    [i for i, p in enumerate(self._choice_pcodes) if parent in self.areas[p].ancestors[:-1]],
                    dtype=np.int64,
                )
            self._choices_under[parent] = idx
        return self._choices_under[parent]

    def _fuzzy(self, forms: list[str], parent: str) -> list[tuple[str, float]]:
        idx = self._choices(parent)
        if not len(idx) or not forms:
            return []
        keys = [self._choice_keys[i] for i in idx]
        scores = np.max([score_keys(form, keys) for form in forms], axis=0)
        # Best score per area (an area may have several spellings), highest first.
        best: dict[str, float] = {}
        order = np.argsort(-scores, kind="stable")
        for j in order[: CANDIDATES_KEPT * 4]:
            pcode = self._choice_pcodes[idx[j]]
            if pcode not in best:
                best[pcode] = float(scores[j])
        return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))

    def _outside_parent(self, key: str, parent: str) -> list[dict]:
        """Areas elsewhere in the country that fit the name well, for the reviewer: the parent may be wrong."""
        if not parent:
            return []
        return [self._candidate(p, s) for p, s in self._fuzzy([key], "")[:2] if s >= self.threshold]


# Area-type words as field data misspells them ("Distriot de", "Tehsill"): dropped before fuzzy scoring.
_TYPE_WORDS = sorted({w for p in _AREA_TYPE_PHRASES for w in p.split() if len(w) >= 5})
_LINK_WORDS = {"de", "do", "da", "du", "del", "of"}


def _loose_strip(key: str) -> str:
    words = key.split()
    changed = True
    while changed and len(words) > 1:
        changed = False
        for end in (0, -1):
            word = words[end]
            if len(word) >= 5 and process.extractOne(word, _TYPE_WORDS, scorer=OSA.distance, score_cutoff=1):
                words.pop(end)
                if words and len(words) > 1 and words[0 if end == 0 else -1] in _LINK_WORDS and end == 0:
                    words.pop(0)
                changed = True
                break
    return " ".join(words)


def _query_forms(plain: str, key: str) -> list[str]:
    """The query as scored: its key, its full folded spelling, and its key without misspelt type words."""
    forms = [key]
    for form in (_fold(plain), _loose_strip(key)):
        if form and form not in forms:
            forms.append(form)
    return forms


def score_keys(key: str, keys: list[str]) -> np.ndarray:
    """Similarity (0-100) of one normalised name to many: a WRatio/token_sort_ratio blend, with typos forgiven.

    The blend keeps WRatio's tolerance of partial names while token_sort_ratio stops a short name
    scoring high against a long one that merely contains it. A single typo (insertion, deletion,
    substitution or transposition) in a name of five letters or more scores at least 92, which
    a plain ratio would put at ~86 for a seven-letter name.
    """
    if not keys:
        return np.zeros(0, dtype=np.float32)
    w = process.cdist([key], keys, scorer=fuzz.WRatio, dtype=np.float32)[0]
    t = process.cdist([key], keys, scorer=fuzz.token_sort_ratio, dtype=np.float32)[0]
    scores = 0.5 * w + 0.5 * t
    if len(key) >= 5:
        compact = key.replace(" ", "")
        d = process.cdist([compact], [k.replace(" ", "") for k in keys], scorer=OSA.distance, dtype=np.int32)[
            0
        ]
        scores = np.where(d == 1, np.maximum(scores, 92.0), scores)
    return scores


# --- a matcher per country and level, rebuilt when the gazetteer or its aliases change ----------

_MATCHERS: dict[tuple[str, int], tuple[tuple, AreaMatcher]] = {}


def matcher_for(country_iso3: str, level: int) -> AreaMatcher:
    """A cached AreaMatcher for the current gazetteer; a new one when the version or aliases changed."""
    from django.db.models import Count, Max

    from .models import AreaAlias, GazetteerVersion

    country = country_iso3.strip().upper()
    version = GazetteerVersion.objects.filter(country_iso3=country, is_current=True).first()
    if version is None:
        raise ValidationError(MATCH_NO_GAZETTEER.format(country=country))
    alias_state = AreaAlias.objects.filter(country_iso3=country, level=int(level)).aggregate(
        n=Count("id"), last=Max("updated_at"), top=Max("id")
    )
    stamp = (version.pk, version.updated_at, alias_state["n"], alias_state["last"], alias_state["top"])
    cached = _MATCHERS.get((country, int(level)))
    if cached and cached[0] == stamp:
        return cached[1]
    matcher = AreaMatcher(country, int(level), version=version)
    _MATCHERS[(country, int(level))] = (stamp, matcher)
    return matcher


def matcher_cache_clear() -> None:
    _MATCHERS.clear()
