"""Writes around name matching: the review list of names the matcher would not decide, and aliases."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from mobility.core.models import ImportJob, Operation
from mobility.core.services import audit_record

from ..matching import AreaMatcher, MatchResult, matcher_for, normalize_name
from ..models import AdminArea, AreaAlias, GazetteerVersion, MatchReview

__all__ = [
    "ALIAS_NAME_EMPTY",
    "ALIAS_PARENT_MISMATCH",
    "ALIAS_PCODE_UNKNOWN",
    "ALIAS_PCODE_WRONG_LEVEL",
    "REVIEW_NOT_OPEN",
    "alias_create",
    "match_names",
    "review_dismiss",
    "review_record",
    "review_resolve",
]

ALIAS_PCODE_UNKNOWN = "{pcode} is not a p-code of the current {country} gazetteer."
ALIAS_PCODE_WRONG_LEVEL = "{pcode} ({name}) is an admin{actual} area; this name needs an admin{level} area."
ALIAS_PARENT_MISMATCH = "{pcode} ({name}) is not inside {parent}; choose an area under {parent}."
ALIAS_NAME_EMPTY = "The name is empty once punctuation and area-type words are removed."
REVIEW_NOT_OPEN = 'The review of "{name}" is already {status}.'


def match_names(
    *,
    country_iso3: str,
    level: int,
    names: Sequence[str],
    parents: Sequence[str | None] | None = None,
    record_review: bool = True,
    import_job: ImportJob | None = None,
    operation: Operation | None = None,
    matcher: AreaMatcher | None = None,
) -> list[MatchResult]:
    """Match names (with optional parents: p-codes or names) and put the undecided ones on the review list."""
    matcher = matcher or matcher_for(country_iso3, level)
    results = matcher.match_many(names, parents)
    if record_review:
        review_record(
            results=results, country_iso3=matcher.country_iso3, import_job=import_job, operation=operation
        )
    return results


@transaction.atomic
def review_record(
    *,
    results: Sequence[MatchResult],
    country_iso3: str,
    import_job: ImportJob | None = None,
    operation: Operation | None = None,
) -> int:
    """Add each ambiguous/unmatched name to the review list once, counting how often it was seen."""
    country = country_iso3.strip().upper()
    seen: Counter = Counter()
    first: dict[tuple, MatchResult] = {}
    for result in results:
        if result.needs_review:
            key = (result.level, result.parent_pcode, result.normalized[:200])
            seen[key] += 1
            first.setdefault(key, result)
    if not seen:
        return 0
    # Create the missing rows with 0 occurrences (a concurrent import may create the same row: the
    # unique constraint makes that a no-op), then count every sighting with one UPDATE per name.
    MatchReview.objects.bulk_create(
        [
            MatchReview(
                country_iso3=country,
                level=level,
                parent_pcode=parent,
                normalized=normalized,
                provider_name=first[(level, parent, normalized)].query.strip()[:200],
                match_status=str(first[(level, parent, normalized)].status),
                candidates=first[(level, parent, normalized)].candidates,
                occurrences=0,
                import_job=import_job,
                operation=operation,
            )
            for level, parent, normalized in seen
        ],
        ignore_conflicts=True,
    )
    for (level, parent, normalized), count in seen.items():
        MatchReview.objects.filter(
            country_iso3=country, level=level, parent_pcode=parent, normalized=normalized
        ).update(occurrences=F("occurrences") + count, updated_at=timezone.now())
    return len(seen)


def _current_area(country_iso3: str, pcode: str) -> AdminArea:
    area = (
        AdminArea.objects.filter(
            version__country_iso3=country_iso3, version__is_current=True, pcode=pcode.strip()
        )
        .select_related("parent__parent__parent__parent")
        .first()
    )
    if area is None:
        raise ValidationError(ALIAS_PCODE_UNKNOWN.format(pcode=pcode, country=country_iso3))
    return area


def _ancestors(area: AdminArea) -> list[str]:
    out, node = [], area.parent
    while node is not None:
        out.append(node.pcode)
        node = node.parent
    return out


@transaction.atomic
def alias_create(
    *,
    country_iso3: str,
    level: int,
    pcode: str,
    name: str,
    parent_pcode: str = "",
    source: str = AreaAlias.Source.MANUAL,
    by=None,
) -> AreaAlias:
    """Teach the matcher another name for a p-code (under a parent, or anywhere when parent_pcode is "")."""
    country = country_iso3.strip().upper()
    if not GazetteerVersion.objects.filter(country_iso3=country, is_current=True).exists():
        raise ValidationError(ALIAS_PCODE_UNKNOWN.format(pcode=pcode, country=country))
    area = _current_area(country, pcode)
    if area.level != int(level):
        raise ValidationError(
            ALIAS_PCODE_WRONG_LEVEL.format(pcode=area.pcode, name=area.name, actual=area.level, level=level)
        )
    if parent_pcode and parent_pcode not in _ancestors(area):
        raise ValidationError(
            ALIAS_PARENT_MISMATCH.format(pcode=area.pcode, name=area.name, parent=parent_pcode)
        )
    normalized = normalize_name(name)
    if not normalized:
        raise ValidationError(ALIAS_NAME_EMPTY)
    alias = AreaAlias.objects.filter(
        country_iso3=country, level=int(level), parent_pcode=parent_pcode, normalized=normalized
    ).first()
    created = alias is None
    if created:
        alias = AreaAlias(
            country_iso3=country, level=int(level), parent_pcode=parent_pcode, normalized=normalized
        )
    alias.pcode, alias.name, alias.source = area.pcode, name.strip()[:200], source
    if created or by is not None:
        alias.created_by = by if getattr(by, "pk", None) else alias.created_by
    alias.full_clean()
    alias.save()
    audit_record(
        action="alias.create" if created else "alias.update",
        obj=alias,
        by=by,
        detail={"pcode": alias.pcode, "level": alias.level, "parent_pcode": parent_pcode},
    )
    return alias


@transaction.atomic
def review_resolve(*, review: MatchReview, pcode: str, by) -> AreaAlias:
    """A data manager picks the area for a reviewed name; it becomes an alias the matcher uses next time."""
    review = MatchReview.objects.select_for_update().get(pk=review.pk)
    if review.status != MatchReview.Status.OPEN:
        raise ValidationError(REVIEW_NOT_OPEN.format(name=review.provider_name, status=review.status))
    alias = alias_create(
        country_iso3=review.country_iso3,
        level=review.level,
        pcode=pcode,
        name=review.provider_name,
        parent_pcode=review.parent_pcode,
        source=AreaAlias.Source.CONFIRMED,
        by=by,
    )
    # The alias key is the review's key by construction; keep them equal even if the normaliser changed.
    if alias.normalized != review.normalized:
        alias.normalized = review.normalized
        alias.full_clean()
        alias.save(update_fields=["normalized", "updated_at"])
    review.status = MatchReview.Status.RESOLVED
    review.chosen_pcode = alias.pcode
    review.resolved_by = by if getattr(by, "pk", None) else None
    review.resolved_at = timezone.now()
    review.full_clean()
    review.save()
    audit_record(
        action="review.resolve", obj=review, by=by, operation=review.operation, detail={"pcode": alias.pcode}
    )
    return alias


@transaction.atomic
def review_dismiss(*, review: MatchReview, by) -> MatchReview:
    """Mark a reviewed name as not an area (e.g. "unknown", "-"); it stays out of figures."""
    review = MatchReview.objects.select_for_update().get(pk=review.pk)
    if review.status != MatchReview.Status.OPEN:
        raise ValidationError(REVIEW_NOT_OPEN.format(name=review.provider_name, status=review.status))
    review.status = MatchReview.Status.DISMISSED
    review.resolved_by = by if getattr(by, "pk", None) else None
    review.resolved_at = timezone.now()
    review.full_clean()
    review.save()
    audit_record(action="review.dismiss", obj=review, by=by, operation=review.operation)
    return review
