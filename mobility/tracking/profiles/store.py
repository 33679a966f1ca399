"""Stored profiles (SourceProfile): the shipped ones, loading, lookup and saving; and a round by number."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from mobility.core.models import Operation, Round

from ..models import AssessmentType, SourceProfile
from .mapping import Profile
from .messages import PROFILE_BUILTIN_READONLY, PROFILE_UNKNOWN, ROUND_UNKNOWN

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "data" / "profiles"


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
