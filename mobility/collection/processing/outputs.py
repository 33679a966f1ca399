"""What a job wrote: SubmissionOutput bookkeeping, latest wins per place (place_taken), rows edits replaced."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from mobility.core.imports import ImportFailed
from mobility.core.models import Round

from ..models import Binding, Submission, SubmissionOutput
from .common import _BATCH_MIXED, ASSESSMENT, EVENT, FLAG_PLACE_TAKEN, MOVEMENT, PLACE_TAKEN, _flags_with
from .inputs import Plan, Prepared

_ROW_REF = re.compile(r"row (\d+)")
_FLOWS = (Binding.Target.FLOW_COUNTS, Binding.Target.FLOW_SURVEYS)


@dataclass
class _Item:
    """One record of the importer's data: its identity and the submission its rows came from."""

    obj: object
    identity: tuple
    submission_id: int


def _assessment_ids(items: list[_Item]) -> dict[tuple, int]:
    """The stored assessments of these items' identities (round, type, place): identity → pk."""
    from mobility.tracking.models import Assessment

    identities = {i.identity for i in items}
    return {
        (round_id, atype, key): pk
        for pk, round_id, atype, key in Assessment.objects.filter(
            round_id__in={i[0] for i in identities}, place_key__in={i[2] for i in identities}
        ).values_list("pk", "round_id", "assessment_type", "place_key")
        if (round_id, atype, key) in identities
    }


class _Hook:
    """Runs inside the job's write transaction: latest-wins per place, outputs, replaced rows."""

    def __init__(self, plan: Plan, prepared: list[Prepared], row_map: dict[int, tuple[int, int | None]]):
        self.plan = plan
        self.form = plan.binding.form
        self.by_id = {p.submission.pk: p.submission for p in prepared}
        self.row_map = row_map
        self.lost: dict[int, str] = {}  # submission id → the message saying who holds its place
        self.written: set[int] = set()  # submissions whose rows were written
        self.removed = 0
        self.freed = False

    # The importers' data, per target.
    def _items(self, data) -> list[_Item]:
        target = self.plan.binding.target
        items = []
        if target == Binding.Target.BASELINE:
            for record in data:
                rows = {int(n) for n in _ROW_REF.findall(record.source_ref)}
                rows.add(record.first_row)
                items.append(_Item(record, record.identity(), self._submission_of(rows)))
        elif target == Binding.Target.SITE:
            for site in data["rows"]:
                items.append(_Item(site, (site.round_id, "SA", site.code), self._submission_of({site.row})))
        elif target in _FLOWS:
            from mobility.flows import forms

            for values, identity, row in forms.items(data):
                items.append(_Item(values, identity, self._submission_of({row})))
        elif target == Binding.Target.REGISTRATION:
            from mobility.registration import forms_binding

            for household, identity, rows in forms_binding.items(data):
                items.append(_Item(household, identity, self._submission_of(rows)))
        else:
            for record in data["records"]:
                items.append(_Item(record, (record.code,), self._submission_of({record.first_row})))
        return items

    def _submission_of(self, rows: set) -> int:
        owners = {self.row_map[r][0] for r in rows if r in self.row_map}
        if len(owners) != 1:
            raise ImportFailed(_BATCH_MIXED)
        return owners.pop()

    def _rebuild(self, data, items: list[_Item]):
        kept = [i.obj for i in items]
        target = self.plan.binding.target
        if target == Binding.Target.BASELINE:
            return kept
        if target in _FLOWS:
            from mobility.flows import forms

            return forms.rebuild(data, kept)
        if target == Binding.Target.REGISTRATION:
            from mobility.registration import forms_binding

            return forms_binding.rebuild(data, kept)
        key = "rows" if target == Binding.Target.SITE else "records"
        return {**data, key: kept}

    def before_write(self, data):
        items = self._items(data)
        if self.plan.binding.target == Binding.Target.BASELINE:
            self._provenance(items)
        if self.plan.binding.target in (Binding.Target.BASELINE, Binding.Target.SITE):
            items = self._latest_wins(items)
        self.items = items
        return self._rebuild(data, items)

    def _provenance(self, items: list[_Item]) -> None:
        """Name the form and the submission instead of the job's CSV rows, which depend on the batch."""

        def entries(ref: str, instance_id: str) -> str:
            numbers = [self.row_map.get(int(n), (0, None))[1] for n in _ROW_REF.findall(ref)]
            return ",".join(f"{instance_id} #{n}" if n else instance_id for n in numbers)[:200]

        for item in items:
            record, instance_id = item.obj, self.by_id[item.submission_id].instance_id
            record.source = f"form:{self.form.xml_form_id}"[:64]
            record.source_ref = instance_id[:200]
            for figure in record.figures.values():
                for part in figure.parts:
                    part.source_ref = entries(part.source_ref, instance_id)

    def _latest_wins(self, items: list[_Item]) -> list[_Item]:
        """Drop the records of a place that a newer current submission (outside this job) holds."""
        if not items:
            return items
        ids = _assessment_ids(items)
        if not ids:
            return items
        holders = defaultdict(list)
        for object_id, pk, root_id, submitted_at, instance_id in SubmissionOutput.objects.filter(
            model=ASSESSMENT,
            object_id__in=ids.values(),
            submission__superseded_by__isnull=True,
        ).values_list(
            "object_id",
            "submission_id",
            "submission__root_id",
            "submission__submitted_at",
            "submission__instance_id",
        ):
            holders[object_id].append((pk, root_id, submitted_at, instance_id))
        rounds = dict(Round.objects.filter(pk__in={i[0] for i in ids}).values_list("pk", "number"))
        kept = []
        for item in items:
            mine = self.by_id[item.submission_id]
            newer = [
                h
                for h in holders.get(ids.get(item.identity), [])
                if h[0] not in self.by_id
                and not (h[1] == mine.root_id)
                and (h[2], h[0]) > (mine.submitted_at, mine.pk)
            ]
            if newer:
                round_id, atype, place = item.identity
                self.lost[item.submission_id] = PLACE_TAKEN.format(
                    instance=newer[0][3], type=atype, place=place, round=rounds.get(round_id, round_id)
                )
            else:
                kept.append(item)
        return kept

    def after_write(self, data) -> int:
        """Record the outputs, take places from older submissions, remove rows an edit replaced."""
        new = self._outputs(self.items)
        batch_ids = set(self.by_id)
        roots = {s.root_id for s in self.by_id.values()}
        chain_of = dict(
            Submission.objects.filter(form=self.form, root_id__in=roots)
            .exclude(pk__in=batch_ids)
            .values_list("pk", "root_id")
        )
        involved = batch_ids | set(chain_of)
        old_by_root: dict[str, set[tuple[str, int]]] = defaultdict(set)
        for submission_id, model, object_id in SubmissionOutput.objects.filter(
            submission_id__in=involved
        ).values_list("submission_id", "model", "object_id"):
            root = (
                self.by_id[submission_id].root_id if submission_id in self.by_id else chain_of[submission_id]
            )
            old_by_root[root].add((model, object_id))
        new_by_root: dict[str, set[tuple[str, int]]] = defaultdict(set)
        for submission_id, outputs in new.items():
            new_by_root[self.by_id[submission_id].root_id] |= outputs
        produced = set().union(*new.values()) if new else set()
        candidates = set()
        for root, old in old_by_root.items():
            candidates |= old - new_by_root.get(root, set())
        candidates -= produced
        # Outputs of this job's submissions and of the versions they replace: replaced by the new ones.
        SubmissionOutput.objects.filter(submission_id__in=involved).delete()
        SubmissionOutput.objects.bulk_create(
            [
                SubmissionOutput(submission_id=submission_id, model=model, object_id=object_id)
                for submission_id, outputs in new.items()
                for model, object_id in outputs
            ],
            ignore_conflicts=True,
        )
        self.written = set(new)
        self._take_places(new, batch_ids)
        return self._remove(candidates)

    def _outputs(self, items: list[_Item]) -> dict[int, set[tuple[str, int]]]:
        from mobility.tracking.models import Event, GroupMovement

        out: dict[int, set[tuple[str, int]]] = defaultdict(set)
        if not items:
            return out
        if self.plan.binding.target in _FLOWS:
            from mobility.flows import forms

            return forms.outputs(self.plan.binding.target, [(i.identity, i.submission_id) for i in items])
        if self.plan.binding.target == Binding.Target.REGISTRATION:
            from mobility.registration import forms_binding

            return forms_binding.outputs(self.form.operation_id, [(i.obj, i.submission_id) for i in items])
        if self.plan.binding.target != Binding.Target.EVENT:
            ids = _assessment_ids(items)
            for item in items:
                if item.identity in ids:
                    out[item.submission_id].add((ASSESSMENT, ids[item.identity]))
            return out
        events = dict(
            Event.objects.filter(
                operation_id=self.form.operation_id, code__in=[i.obj.code.strip() for i in items]
            ).values_list("code", "pk")
        )
        movements = defaultdict(dict)
        for event_id, code, pk in GroupMovement.objects.filter(event_id__in=events.values()).values_list(
            "event_id", "code", "pk"
        ):
            movements[event_id][code] = pk
        for item in items:
            event_id = events.get(item.obj.code.strip())
            if event_id is None:
                continue
            out[item.submission_id].add((EVENT, event_id))
            for code in item.obj.movements:
                if code in movements[event_id]:
                    out[item.submission_id].add((MOVEMENT, movements[event_id][code]))
        return out

    def _take_places(self, new: dict[int, set[tuple[str, int]]], batch_ids: set[int]) -> None:
        """Older current submissions that held these assessments lose them (latest wins)."""
        from mobility.tracking.models import Assessment

        winners = {
            object_id: self.by_id[submission_id].instance_id
            for submission_id, outputs in new.items()
            for model, object_id in outputs
            if model == ASSESSMENT
        }
        if not winners:
            return
        losers = list(
            SubmissionOutput.objects.filter(model=ASSESSMENT, object_id__in=winners)
            .exclude(submission_id__in=batch_ids)
            .select_related("submission")
        )
        if not losers:
            return
        describe = {
            a.pk: (a.assessment_type, a.place_key, a.round.number)
            for a in Assessment.objects.filter(pk__in={o.object_id for o in losers}).select_related("round")
        }
        SubmissionOutput.objects.filter(pk__in=[o.pk for o in losers]).delete()
        for output in losers:
            submission = output.submission
            if submission.superseded_by_id is not None:
                continue
            atype, place, number = describe[output.object_id]
            message = PLACE_TAKEN.format(
                instance=winners[output.object_id], type=atype, place=place, round=number
            )
            flags = _flags_with(submission.flags, FLAG_PLACE_TAKEN, message)
            update = {"flags": flags}
            if not submission.outputs.exists():
                update.update(status=Submission.Status.NEEDS_ATTENTION, error=message)
            Submission.objects.filter(pk=submission.pk).update(**update)

    def _remove(self, candidates: set[tuple[str, int]]) -> int:
        """Delete rows no current submission produces any more (rows a file import took over stay)."""
        if not candidates:
            return 0
        held = set(
            SubmissionOutput.objects.filter(
                object_id__in={object_id for _, object_id in candidates},
                submission__superseded_by__isnull=True,
            ).values_list("model", "object_id")
        )
        gone = candidates - held
        if not gone:
            return 0
        from mobility.tracking.analytics import analytics_refresh
        from mobility.tracking.models import Assessment, Event, GroupMovement
        from mobility.tracking.services import ROUND_CLOSED

        def ours(job_ids) -> set[int]:
            """The jobs among these that processed submissions (not file imports)."""
            return set(
                Submission.objects.filter(import_job_id__in={j for j in job_ids if j}).values_list(
                    "import_job_id", flat=True
                )
            )

        removed = 0
        assessments = list(
            Assessment.objects.filter(pk__in=[i for m, i in gone if m == ASSESSMENT]).select_related(
                "round", "round__operation"
            )
        )
        mine = ours(a.import_job_id for a in assessments)
        assessments = [a for a in assessments if a.import_job_id is None or a.import_job_id in mine]
        rounds = set()
        for assessment in assessments:
            round_ = assessment.round
            if round_.status in (Round.Status.PUBLISHED, Round.Status.SUPERSEDED):
                raise ImportFailed(
                    ROUND_CLOSED.format(
                        number=round_.number, operation=round_.operation, status=round_.status
                    )
                )
            rounds.add(round_.pk)
        if assessments:
            removed += len(assessments)
            Assessment.objects.filter(pk__in=[a.pk for a in assessments]).delete()
            for round_id in sorted(rounds):
                analytics_refresh(round_id=round_id)
        movements = list(
            GroupMovement.objects.filter(pk__in=[i for m, i in gone if m == MOVEMENT]).values_list(
                "pk", "event_id", "event__import_job_id"
            )
        )
        events = list(
            Event.objects.filter(pk__in=[i for m, i in gone if m == EVENT]).values_list("pk", "import_job_id")
        )
        mine = ours([j for _, _, j in movements] + [j for _, j in events])
        doomed = [pk for pk, _, job_id in movements if job_id is None or job_id in mine]
        if doomed:
            removed += GroupMovement.objects.filter(pk__in=doomed).delete()[0]
        # An event goes when no current submission produces it and it has no movement left.
        empty = [
            pk
            for pk, job_id in events
            if (job_id is None or job_id in mine) and not GroupMovement.objects.filter(event_id=pk).exists()
        ]
        if empty:
            removed += len(empty)
            Event.objects.filter(pk__in=empty).delete()
        if any(model.startswith("flows.") for model, _ in gone):
            from mobility.flows import forms

            removed += forms.remove(gone, ours)
        if any(model.startswith("registration.") for model, _ in gone):
            from mobility.registration import forms_binding

            removed += forms_binding.remove(gone)
        self.removed = removed
        self.freed = bool(removed)
        return removed
