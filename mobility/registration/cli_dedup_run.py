"""`mobility registration dedup-run`: find the duplicates among an operation's registered people.

A thin wrapper over ``dedup_app.dedup_run``: a progress bar per stage on stderr, then a summary
of counts (never a personal value).
"""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mobility.core.models import Operation

from . import dedup_app

HELP = (
    "Score every active person of an operation against the others with its saved model (trained on "
    "the operation's own records the first time): pairs in the review band wait for review, pairs "
    "above the match threshold are clustered."
)
EXAMPLE = "mobility registration dedup-run --operation mozambique-cabo-delgado"

OPERATION_UNKNOWN = 'No operation "{slug}"; the operations are: {slugs}.'

SUMMARY = (
    "records {records}, model version {model_version}{trained_note}; pairs found {pairs_found} "
    "(new {pairs_created}, updated {pairs_updated}, removed {pairs_removed}); pending review {pending}, "
    "auto-matched {auto}, already decided {decided}; clusters {clusters} "
    "(new {clusters_created}, {clustered_records} records)"
)


def add_arguments(parser):
    parser.add_argument("--operation", required=True, help="the operation's slug")
    parser.add_argument(
        "--retrain",
        action="store_true",
        help="estimate the model again from the current records (saved as a new version) before scoring",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _stages(trained: bool) -> list[str]:
    from .dedup import engine

    stages = [dedup_app.STAGE_READ, engine.STAGE_PREPARE]
    if trained:
        stages += [dedup_app.STAGE_TRAIN, engine.STAGE_PRIOR, engine.STAGE_U, engine.STAGE_M]
    return stages + [engine.STAGE_PREDICT, dedup_app.STAGE_WRITE_PAIRS, dedup_app.STAGE_WRITE_CLUSTERS]


def handle(command, *, operation, retrain=False, quiet=False, **options):
    found = Operation.objects.filter(slug=operation).first()
    if found is None:
        slugs = ", ".join(Operation.objects.order_by("slug").values_list("slug", flat=True)) or "none"
        command.fail(OPERATION_UNKNOWN.format(slug=operation, slugs=slugs))
    stages = _stages(retrain or dedup_app.model_active(found) is None)
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=quiet,
        transient=False,
    )
    task = bar.add_task("deduplicating", total=len(stages))
    done: set[str] = set()

    def progress(stage: str) -> None:
        if stage in stages and stage not in done:
            done.add(stage)
            bar.update(task, completed=len(done) - 1, description=stage)

    with bar:
        result = dedup_app.dedup_run(operation=found, retrain=retrain, progress=progress)
        bar.update(task, completed=len(stages), description="done")
    command.stdout.write(
        SUMMARY.format(**result.as_dict(), trained_note=" (trained now)" if result.trained else "")
    )
    return None
