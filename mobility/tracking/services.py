"""Writes of tracking data. Importers call ``assessments_write`` inside the framework's transaction
(it opens its own when called alone, e.g. by fixtures and scripts)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from operator import attrgetter

from django.db import transaction
from django.utils import timezone

from mobility.core.bulk import rows_insert
from mobility.core.imports import Counts, ImportFailed
from mobility.core.models import ImportJob, Round

from .analytics import analytics_refresh
from .models import Assessment, FigureBreakdown, IndicatorValue, PopulationFigure
from .records import AssessmentRecord

ASSESSMENT_FIELDS = (
    "operation_id",
    "country_iso3",
    "admin_level",
    "admin1_code",
    "admin2_code",
    "admin3_code",
    "location_id",
    "provider_admin1_name",
    "provider_admin2_name",
    "provider_admin3_name",
    "provider_location_name",
    "reporting_date",
    "key_informants",
    "site_profile",
    "top_needs",
    "source",
    "source_ref",
)
FIGURE_FIELDS = (
    "individuals",
    "households",
    "males",
    "females",
    "sadd",
    "shelter",
    "displacement_start",
    "displacement_end",
)
PART_FIELDS = (
    "displacement_reason",
    "hazard_type",
    "provider_reason",
    "origin_admin1_code",
    "origin_admin1_name",
    "origin_admin2_code",
    "origin_admin2_name",
    "individuals",
    "households",
    "males",
    "females",
    "source_ref",
)
INDICATOR_FIELDS = ("sector", "indicator", "kind", "value_number", "value_boolean", "value_text")
ROUND_CLOSED = (
    "Round {number} of {operation} is {status}: its figures cannot change in place. "
    "Open a correction (mobility rounds correct) and import into it."
)


# Field values as tuples, read in C (the writer's per-row cost on a million parts).
_assessment_values = attrgetter(*ASSESSMENT_FIELDS)
_figure_values = attrgetter(*FIGURE_FIELDS)
_part_values = attrgetter(*PART_FIELDS)
_indicator_values = attrgetter(*INDICATOR_FIELDS)


def _plain(value):
    """A JSON field's value as a comparable tuple (dicts by sorted items)."""
    if isinstance(value, dict):
        return tuple(sorted(value.items()))
    if isinstance(value, list):
        return tuple(value)
    return value


_FIGURE_PLAIN = tuple(name for name in FIGURE_FIELDS if name not in ("sadd", "shelter"))


def _figure_snapshot(group: str, plain: tuple, sadd: dict, shelter: dict, parts: list[tuple]) -> tuple:
    return group, plain, tuple(sorted(sadd.items())), tuple(sorted(shelter.items())), tuple(sorted(parts))


def _snapshot_record(record: AssessmentRecord) -> tuple:
    """What decides whether a stored assessment changes: its fields, figures, parts and indicators."""
    figures = tuple(
        _figure_snapshot(
            group,
            tuple(getattr(f, name) for name in _FIGURE_PLAIN),
            f.sadd,
            f.shelter,
            [tuple(getattr(p, n) for n in PART_FIELDS) for p in f.parts],
        )
        for group, f in sorted(record.figures.items())
    )
    indicators = tuple(sorted(tuple(getattr(i, n) for n in INDICATOR_FIELDS) for i in record.indicators))
    fields = tuple(_plain(getattr(record, name)) for name in ASSESSMENT_FIELDS)
    return fields, figures, indicators


KEYED_READ_MAX = 5000  # up to this many places, read just those places; more: the whole round, flat


def _stored_snapshots(
    round_id: int, assessment_type: str, place_keys: list[str] | None = None
) -> dict[str, tuple[int, tuple]]:
    """{place_key: (assessment id, snapshot)} of what the round holds, read with four flat queries.

    With ``place_keys`` only those places are read, so a small write (one form submission) costs
    the same whatever the size of the round. The snapshot is built from the same values, in the
    same shape, as ``_snapshot_record`` builds from a record, without model instances or prefetch
    querysets (which cost more than the rows).
    """
    in_round_q = Assessment.objects.filter(round_id=round_id, assessment_type=assessment_type)
    if place_keys is None:
        assessments = list(in_round_q.values_list("pk", "place_key", *ASSESSMENT_FIELDS))
    else:
        assessments = [
            row
            for chunk in _chunks(sorted(set(place_keys)), 500)
            for row in in_round_q.filter(place_key__in=chunk).values_list(
                "pk", "place_key", *ASSESSMENT_FIELDS
            )
        ]
    if not assessments:
        return {}
    if place_keys is None:
        scopes = [{"assessment__round_id": round_id, "assessment__assessment_type": assessment_type}]
    else:
        scopes = [{"assessment_id__in": chunk} for chunk in _chunks([a[0] for a in assessments], 500)]
    parts: dict[int, list[tuple]] = defaultdict(list)
    for scope in scopes:
        part_scope = {f"figure__{key}": value for key, value in scope.items()}
        for figure_id, *values in FigureBreakdown.objects.filter(**part_scope).values_list(
            "figure_id", *PART_FIELDS
        ):
            parts[figure_id].append(tuple(values))
    figures: dict[int, list[tuple]] = defaultdict(list)
    plain_at = [FIGURE_FIELDS.index(name) for name in _FIGURE_PLAIN]
    sadd_at, shelter_at = FIGURE_FIELDS.index("sadd"), FIGURE_FIELDS.index("shelter")
    figure_rows = (
        row
        for scope in scopes
        for row in PopulationFigure.objects.filter(**scope).values_list(
            "pk", "assessment_id", "population_group", *FIGURE_FIELDS
        )
    )
    for figure_id, assessment_id, group, *values in figure_rows:
        figures[assessment_id].append(
            _figure_snapshot(
                group,
                tuple(values[i] for i in plain_at),
                values[sadd_at],
                values[shelter_at],
                parts.pop(figure_id, []),
            )
        )
    indicators: dict[int, list[tuple]] = defaultdict(list)
    for scope in scopes:
        for assessment_id, *values in IndicatorValue.objects.filter(**scope).values_list(
            "assessment_id", *INDICATOR_FIELDS
        ):
            indicators[assessment_id].append(tuple(values))
    out = {}
    for pk, place_key, *values in assessments:
        fields = tuple(_plain(v) for v in values)
        snapshot = (fields, tuple(sorted(figures.pop(pk, []))), tuple(sorted(indicators.pop(pk, []))))
        out[place_key] = (pk, snapshot)
    return out


def _chunks(items: list, size: int = 5000):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _create_children(pairs: list[tuple[int, AssessmentRecord]], round_id: int, assessment_type: str) -> None:
    """Insert the figures, parts and indicators of freshly written assessments (ids given)."""
    rows_insert(
        PopulationFigure,
        ("assessment_id", "population_group", *FIGURE_FIELDS),
        (
            (assessment_id, group, *_figure_values(fig))
            for assessment_id, record in pairs
            for group, fig in record.figures.items()
        ),
    )
    if any(fig.parts for _, record in pairs for fig in record.figures.values()):
        written = {assessment_id for assessment_id, _ in pairs}
        if len(written) <= KEYED_READ_MAX:
            figure_rows = [
                row
                for chunk in _chunks(sorted(written), 500)
                for row in PopulationFigure.objects.filter(assessment_id__in=chunk).values_list(
                    "pk", "assessment_id", "population_group"
                )
            ]
        else:
            figure_rows = PopulationFigure.objects.filter(
                assessment__round_id=round_id, assessment__assessment_type=assessment_type
            ).values_list("pk", "assessment_id", "population_group")
        figure_ids = {
            (assessment_id, group): pk for pk, assessment_id, group in figure_rows if assessment_id in written
        }
        rows_insert(
            FigureBreakdown,
            ("figure_id", *PART_FIELDS),
            (
                (figure_id, *_part_values(p))
                for assessment_id, record in pairs
                for group, fig in record.figures.items()
                if fig.parts
                for figure_id in (figure_ids[(assessment_id, group)],)
                for p in fig.parts
            ),
        )
    rows_insert(
        IndicatorValue,
        ("assessment_id", *INDICATOR_FIELDS),
        (
            (assessment_id, *_indicator_values(i))
            for assessment_id, record in pairs
            for i in record.indicators
        ),
    )


@transaction.atomic
def assessments_write(
    *, records: Iterable[AssessmentRecord], job: ImportJob | None = None, progress=None
) -> Counts:
    """Create, update or leave unchanged each record's assessment, figures and breakdowns; refresh analytics.

    Idempotent: writing the same records again changes nothing. Places that an earlier import of the
    same round had but these records lack are kept and reported (a partial file never deletes data).
    """
    counts = Counts()
    by_round: dict[tuple[int, str], list[AssessmentRecord]] = defaultdict(list)
    for record in records:
        by_round[(record.round_id, record.assessment_type)].append(record)
    # Writers of one round take turns (two files of a round imported at once): the second reads what the
    # first stored, instead of inserting the same places beside it (PostgreSQL: a duplicate key error,
    # or a deadlock in the analytics refresh). SQLite's write lock already serialises them.
    round_ids = sorted({round_id for round_id, _ in by_round})
    list(
        Round.objects.select_for_update().filter(pk__in=round_ids).order_by("pk").values_list("pk", flat=True)
    )
    rounds_touched = set()
    for (round_id, assessment_type), batch in by_round.items():
        # A round that holds nothing of this type yet needs no comparison at all.
        keyed = len(batch) <= KEYED_READ_MAX
        existing = _stored_snapshots(
            round_id, assessment_type, [r.place_key for r in batch] if keyed else None
        )
        found = len(existing)
        new_records, changed = [], []
        for record in batch:
            current = existing.pop(record.place_key, None)
            if current is None:
                new_records.append(record)
            elif current[1] != _snapshot_record(record):
                changed.append((current[0], record))
            else:
                counts.unchanged += 1
        if progress:
            progress.advance(len(batch))
        if keyed:  # places of the round these records lack: counted, not read
            stored = Assessment.objects.filter(round_id=round_id, assessment_type=assessment_type).count()
            missing = stored - found
        else:
            missing = len(existing)
        if not (new_records or changed):
            if missing:
                counts.summary["not_in_file"] = counts.summary.get("not_in_file", 0) + missing
            continue
        round_ = Round.objects.select_related("operation").get(pk=round_id)
        if round_.status in (Round.Status.PUBLISHED, Round.Status.SUPERSEDED):
            raise ImportFailed(
                ROUND_CLOSED.format(number=round_.number, operation=round_.operation, status=round_.status)
            )
        now = timezone.now()
        job_id = job.pk if job is not None else None
        rows_insert(
            Assessment,
            (
                "created_at",
                "updated_at",
                "round_id",
                "assessment_type",
                "place_key",
                "import_job_id",
                *ASSESSMENT_FIELDS,
            ),
            (
                (
                    now,
                    now,
                    round_id,
                    assessment_type,
                    r.place_key,
                    job_id,
                    *_assessment_values(r),
                )
                for r in new_records
            ),
        )
        pairs = []
        if new_records:
            wanted = {r.place_key for r in new_records}
            ids = {
                place_key: pk
                for place_key, pk in Assessment.objects.filter(
                    round_id=round_id, assessment_type=assessment_type
                ).values_list("place_key", "pk")
                if place_key in wanted
            }
            pairs = [(ids[r.place_key], r) for r in new_records]
        if changed:
            Assessment.objects.bulk_update(
                [
                    Assessment(
                        pk=pk,
                        round_id=round_id,
                        assessment_type=assessment_type,
                        place_key=r.place_key,
                        import_job=job,
                        **{name: getattr(r, name) for name in ASSESSMENT_FIELDS},
                    )
                    for pk, r in changed
                ],
                [*ASSESSMENT_FIELDS, "import_job"],
                batch_size=2000,
            )
            for chunk in _chunks([pk for pk, _ in changed]):
                FigureBreakdown.objects.filter(figure__assessment_id__in=chunk).delete()
                PopulationFigure.objects.filter(assessment_id__in=chunk).delete()
                IndicatorValue.objects.filter(assessment_id__in=chunk).delete()
            pairs += changed
        _create_children(pairs, round_id, assessment_type)
        counts.created += len(new_records)
        counts.updated += len(changed)
        if missing:
            counts.summary["not_in_file"] = counts.summary.get("not_in_file", 0) + missing
        rounds_touched.add(round_id)
    warnings = []
    for round_id in sorted(rounds_touched):
        warnings += analytics_refresh(round_id=round_id)
    if warnings:
        counts.summary["analytics_warnings"] = warnings[:50]
    return counts
