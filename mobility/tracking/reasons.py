"""The displacement reason vocabulary: free text as sources write it → DisplacementReason (+ HazardType).

Sources write reasons in many ways: "Conflict", "conflict", "Conflict; Insecurity", "Cyclone Idai",
"Catastrophe naturelle", "Cheias", "No reason for displacement reported"... ``reason_map`` turns any
of them into one reason of the controlled vocabulary, and a hazard type when the reason is a
natural disaster. It never raises: text it cannot recognise is ``OTHER``; empty or "not available"
text is ``UNKNOWN``.

Rule for text naming several reasons ("Conflict; Natural disaster"): the strongest recognised reason
wins, in the order of ``STRENGTH`` (conflict first); among equally strong parts, the first written.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from .models import DisplacementReason, HazardType

R = DisplacementReason
H = HazardType

# Strongest first: a multi-valued text takes the first of these it names.
STRENGTH = (
    R.CONFLICT,
    R.GENERALISED_VIOLENCE,
    R.NATURAL_DISASTER,
    R.EVICTION,
    R.ECONOMIC,
    R.OTHER,
    R.UNKNOWN,
)

# Whole-part phrases meaning "no reason given".
_UNKNOWN_PHRASES = {
    "",
    "-",
    "na",
    "n a",
    "n/a",
    "none",
    "null",
    "unknown",
    "not available",
    "not specified",
    "not reported",
    "no reason",
    "no reason reported",
    "no reason for displacement reported",
    "no data",
    "non disponible",
    "inconnu",
    "inconnue",
    "non specifie",
    "nao disponivel",
    "desconhecido",
    "desconhecida",
    "nao especificado",
    "sem informacao",
}

# (pattern on normalised text, reason, hazard). Checked in order; the first match gives the part's reason.
_PATTERNS: tuple[tuple[str, str, str], ...] = (
    # natural hazards (more specific than "natural disaster")
    (
        r"\b(floods?|flooding|inondations?|inundac\w*|cheias?|enchentes?|crues?)\b",
        R.NATURAL_DISASTER,
        H.FLOOD,
    ),
    (
        r"\b(cyclones?|ciclones?|hurricanes?|ouragans?|furacao|furacoes|typhoons?|storms?|tempetes?|tempestades?)\b",
        R.NATURAL_DISASTER,
        H.CYCLONE,
    ),
    (r"\b(droughts?|secheresses?|secas?|sequias?)\b", R.NATURAL_DISASTER, H.DROUGHT),
    (
        r"\b(earthquakes?|seismes?|tremblements? de terre|terremotos?|sismos?)\b",
        R.NATURAL_DISASTER,
        H.EARTHQUAKE,
    ),
    (r"\b(fires?|incendies?|incendios?|wildfires?)\b", R.NATURAL_DISASTER, H.FIRE),
    (r"\b(landslides?|glissements? de terrain|deslizamentos?|mudslides?)\b", R.NATURAL_DISASTER, H.LANDSLIDE),
    (r"\b(volcan\w*|vulcao|vulcoes|vulcan\w*|eruptions?|erupcao)\b", R.NATURAL_DISASTER, H.VOLCANO),
    (
        r"\b(natural|naturelles?|naturais|disasters?|catastrophes?|desastres?|calamit\w*|hazards?)\b",
        R.NATURAL_DISASTER,
        "",
    ),
    # conflict and violence
    (
        r"\b(conflicts?|conflits?|conflitos?|armed|armes|armados?|war|guerres?|guerras?|attacks?|attaques?|"
        r"ataques?|clashes|affrontements?|fighting|combats?|insurgen\w*)\b",
        R.CONFLICT,
        "",
    ),
    (
        r"\b(violen\w*|insecurit\w*|insecure|inseguranca|insecurite|banditry|banditisme|criminal\w*|"
        r"gangs?|crime)\b",
        R.GENERALISED_VIOLENCE,
        "",
    ),
    (r"\b(evictions?|evicted|expulsions?|expulsao|despejos?|desalojamentos?|demolitions?)\b", R.EVICTION, ""),
    (
        r"\b(econom\w*|livelihoods?|employment|emploi|emprego|jobs?|poverty|pauvrete|pobreza|work|travail|"
        r"trabalho)\b",
        R.ECONOMIC,
        "",
    ),
    (r"\b(others?|autres?|outros?|outras?|otros?)\b", R.OTHER, ""),
)
_COMPILED = tuple((re.compile(p), reason, hazard) for p, reason, hazard in _PATTERNS)
_SPLIT = re.compile(r"[;,/|+&]|\band\b|\bet\b|\be\b|\by\b")
_RANK = {reason: i for i, reason in enumerate(STRENGTH)}


def normalise(text: str) -> str:
    """Casefold, strip accents, turn punctuation into spaces and squeeze spaces."""
    decomposed = unicodedata.normalize("NFKD", str(text or ""))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^\w;,/|+&]+", " ", stripped).replace("_", " ").split())


def _part_reason(part: str) -> tuple[str, str] | None:
    """The reason of one part of the text, or None when the part is empty."""
    part = part.strip()
    if part in _UNKNOWN_PHRASES:
        return (R.UNKNOWN, "") if part else None
    for pattern, reason, hazard in _COMPILED:
        if pattern.search(part):
            return reason, hazard
    return R.OTHER, ""


@functools.lru_cache(maxsize=4096)
def reason_map(text: str | None) -> tuple[str, str]:
    """(DisplacementReason value, HazardType value or "") for free text; never raises."""
    normalised = normalise(text or "")
    if normalised in _UNKNOWN_PHRASES or not normalised.strip(" ;,/|+&"):
        return R.UNKNOWN.value, ""
    found = [r for r in (_part_reason(p) for p in _SPLIT.split(normalised)) if r is not None]
    if not found:
        return R.UNKNOWN.value, ""
    best = min(found, key=lambda rh: _RANK[rh[0]])  # min keeps the first among equals
    reason, hazard = best
    return str(reason.value if hasattr(reason, "value") else reason), str(
        hazard.value if hasattr(hazard, "value") else hazard
    )
