"""The displacement reason vocabulary: free text as sources write it → one reason (+ hazard)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mobility.tracking.models import DisplacementReason, HazardType
from mobility.tracking.reasons import reason_map

R, H = DisplacementReason, HazardType


@pytest.mark.parametrize(
    ("text", "reason", "hazard"),
    [
        ("Conflict", R.CONFLICT, ""),
        ("conflict", R.CONFLICT, ""),
        ("Conflict; Insecurity", R.CONFLICT, ""),
        ("Conflict; Natural disaster", R.CONFLICT, ""),
        ("Insecurity; Natural disaster", R.GENERALISED_VIOLENCE, ""),
        ("Natural disaster; Other reason", R.NATURAL_DISASTER, ""),
        ("Insecurity", R.GENERALISED_VIOLENCE, ""),
        ("Natural disaster", R.NATURAL_DISASTER, ""),
        ("Flood", R.NATURAL_DISASTER, H.FLOOD),
        ("Floods", R.NATURAL_DISASTER, H.FLOOD),
        ("Cyclone Idai", R.NATURAL_DISASTER, H.CYCLONE),
        ("Hurricane Matthew", R.NATURAL_DISASTER, H.CYCLONE),
        ("Drought", R.NATURAL_DISASTER, H.DROUGHT),
        ("Earthquake", R.NATURAL_DISASTER, H.EARTHQUAKE),
        ("Fire", R.NATURAL_DISASTER, H.FIRE),
        ("Eviction", R.EVICTION, ""),
        ("Economic", R.ECONOMIC, ""),
        ("Generalized violence", R.GENERALISED_VIOLENCE, ""),
        ("Violence", R.GENERALISED_VIOLENCE, ""),
        ("Other reason", R.OTHER, ""),
        ("Not available", R.UNKNOWN, ""),
        ("No reason for displacement reported", R.UNKNOWN, ""),
        ("", R.UNKNOWN, ""),
        (None, R.UNKNOWN, ""),
        ("Conflit", R.CONFLICT, ""),
        ("Catastrophe naturelle", R.NATURAL_DISASTER, ""),
        ("Inondation", R.NATURAL_DISASTER, H.FLOOD),
        ("Séisme", R.NATURAL_DISASTER, H.EARTHQUAKE),
        ("Conflito", R.CONFLICT, ""),
        ("Desastre natural", R.NATURAL_DISASTER, ""),
        ("Cheias", R.NATURAL_DISASTER, H.FLOOD),
        ("Économique", R.ECONOMIC, ""),
        ("  CONFLICT  ", R.CONFLICT, ""),
        ("something nobody planned for", R.OTHER, ""),
    ],
)
def test_source_text_maps_to_the_vocabulary(text, reason, hazard):
    assert reason_map(text) == (reason, hazard)


@given(st.text(max_size=80))
def test_any_text_maps_to_a_valid_choice_and_never_raises(text):
    reason, hazard = reason_map(text)
    assert reason in R.values
    assert hazard == "" or hazard in H.values
    assert hazard == "" or reason == R.NATURAL_DISASTER


@given(
    st.sampled_from(["Conflict", "Natural disaster", "Flood", "Insecurity", "Conflit", "Cheias", "Eviction"]),
    st.sampled_from([str.upper, str.lower, str.title, lambda s: f"  {s} ", lambda s: s.replace(" ", "   ")]),
)
def test_case_and_spaces_do_not_matter(text, change):
    assert reason_map(change(text)) == reason_map(text)


@given(st.sampled_from(["Séisme", "Économique", "Inondação", "Catástrofe natural", "Conflit armé"]))
def test_accents_do_not_matter(text):
    import unicodedata

    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    assert reason_map(plain) == reason_map(text)
