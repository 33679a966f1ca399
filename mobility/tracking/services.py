"""Writes of tracking data. Importers call ``assessments_write`` inside the framework's transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from mobility.core.imports import Counts, ImportFailed
from mobility.core.models import ImportJob, Round

from .analytics import analytics_refresh
from .models import Assessment, FigureBreakdown, IndicatorValue, PopulationFigure
from .records import AssessmentRecord, BreakdownPart, FigureRecord, IndicatorRecord

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


def _snapshot_record(record: AssessmentRecord) -> tuple:
    figures = tuple(
        (
            group,
            tuple(getattr(f, name) for name in FIGURE_FIELDS if name not in ("sadd", "shelter")),
            tuple(sorted(f.sadd.items())),
            tuple(sorted(f.shelter.items())),
            tuple(sorted(tuple(getattr(p, n) for n in PART_FIELDS) for p in f.parts)),
        )
        for group, f in sorted(record.figures.items())
    )
    indicators = tuple(sorted(tuple(getattr(i, n) for n in INDICATOR_FIELDS) for i in record.indicators))
    fields = tuple(
        tuple(sorted(v.items())) if isinstance(v, dict) else tuple(v) if isinstance(v, list) else v
        for v in (getattr(record, name) for name in ASSESSMENT_FIELDS)
    )
    return fields, figures, indicators


def _record_from_db(assessment: Assessment) -> AssessmentRecord:
    record = AssessmentRecord(
        round_id=assessment.round_id,
        assessment_type=assessment.assessment_type,
        place_key=assessment.place_key,
        **{name: getattr(assessment, name) for name in ASSESSMENT_FIELDS},
    )
    for figure in assessment.figures.all():
        record.figures[figure.population_group] = FigureRecord(
            population_group=figure.population_group,
            **{name: getattr(figure, name) for name in FIGURE_FIELDS},
            parts=[BreakdownPart(**{n: getattr(p, n) for n in PART_FIELDS}) for p in figure.breakdowns.all()],
        )
    record.indicators = [
        IndicatorRecord(**{n: getattr(i, n) for n in INDICATOR_FIELDS}) for i in assessment.indicators.all()
    ]
    return record


def _create_children(pairs: list[tuple[Assessment, AssessmentRecord]]) -> None:
    figures, parts_for, indicators = [], [], []
    for assessment, record in pairs:
        for group, fig in record.figures.items():
            figure = PopulationFigure(
                assessment=assessment,
                population_group=group,
                **{name: getattr(fig, name) for name in FIGURE_FIELDS},
            )
            figures.append(figure)
            parts_for.append((figure, fig.parts))
        indicators += [
            IndicatorValue(assessment=assessment, **{n: getattr(i, n) for n in INDICATOR_FIELDS})
            for i in record.indicators
        ]
    PopulationFigure.objects.bulk_create(figures, batch_size=2000)
    FigureBreakdown.objects.bulk_create(
        [
            FigureBreakdown(figure=figure, **{n: getattr(p, n) for n in PART_FIELDS})
            for figure, parts in parts_for
            for p in parts
        ],
        batch_size=2000,
    )
    IndicatorValue.objects.bulk_create(indicators, batch_size=2000)


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
    rounds_touched = set()
    for (round_id, assessment_type), batch in by_round.items():
        existing = {
            a.place_key: a
            for a in Assessment.objects.filter(
                round_id=round_id, assessment_type=assessment_type
            ).prefetch_related("figures__breakdowns", "indicators")
        }
        new_pairs, changed_pairs = [], []
        for record in batch:
            current = existing.pop(record.place_key, None)
            if current is None:
                assessment = Assessment(
                    round_id=round_id,
                    assessment_type=assessment_type,
                    place_key=record.place_key,
                    import_job=job,
                    **{name: getattr(record, name) for name in ASSESSMENT_FIELDS},
                )
                new_pairs.append((assessment, record))
            elif _snapshot_record(_record_from_db(current)) != _snapshot_record(record):
                for name in ASSESSMENT_FIELDS:
                    setattr(current, name, getattr(record, name))
                current.import_job = job
                changed_pairs.append((current, record))
            else:
                counts.unchanged += 1
            if progress:
                progress.advance()
        if new_pairs or changed_pairs:
            round_ = Round.objects.select_related("operation").get(pk=round_id)
            if round_.status in (Round.Status.PUBLISHED, Round.Status.SUPERSEDED):
                raise ImportFailed(
                    ROUND_CLOSED.format(
                        number=round_.number, operation=round_.operation, status=round_.status
                    )
                )
        Assessment.objects.bulk_create([a for a, _ in new_pairs], batch_size=2000)
        if changed_pairs:
            Assessment.objects.bulk_update(
                [a for a, _ in changed_pairs], [*ASSESSMENT_FIELDS, "import_job"], batch_size=2000
            )
            PopulationFigure.objects.filter(assessment__in=[a for a, _ in changed_pairs]).delete()
            IndicatorValue.objects.filter(assessment__in=[a for a, _ in changed_pairs]).delete()
        if new_pairs and new_pairs[0][0].pk is None:
            # Backends that do not return ids from bulk_create: read them back by identity.
            ids = dict(
                Assessment.objects.filter(
                    round_id=round_id,
                    assessment_type=assessment_type,
                    place_key__in=[a.place_key for a, _ in new_pairs],
                ).values_list("place_key", "pk")
            )
            for assessment, _ in new_pairs:
                assessment.pk = ids[assessment.place_key]
        _create_children(new_pairs + changed_pairs)
        counts.created += len(new_pairs)
        counts.updated += len(changed_pairs)
        if existing:
            counts.summary.setdefault("not_in_file", 0)
            counts.summary["not_in_file"] += len(existing)
        if new_pairs or changed_pairs:
            rounds_touched.add(round_id)
    warnings = []
    for round_id in sorted(rounds_touched):
        warnings += analytics_refresh(round_id=round_id)
    if warnings:
        counts.summary["analytics_warnings"] = warnings[:50]
    return counts
