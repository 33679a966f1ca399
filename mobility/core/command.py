"""Base class for Mobility's CLI commands: thin wrappers over services, each with an Example."""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, CommandError
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class MobilityCommand(BaseCommand):
    """A command whose --help ends with its examples (the `example` attribute)."""

    example: str = ""

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        if self.example:
            parser.epilog = "Example:\n  " + "\n  ".join(self.example.strip().splitlines())
        return parser

    def fail(self, message: str):
        raise CommandError(message)


SHOWN_ERRORS = 20


def fail_with_row_errors(command: BaseCommand, job) -> None:
    """Stop the command with the job's error after printing its first row errors."""
    out = command.stdout
    for error in job.row_errors.all()[:SHOWN_ERRORS]:
        out.write(f"  {error.text}")
    more = job.row_errors.count() - SHOWN_ERRORS
    if more > 0:
        out.write(f"  … and {more} more")
    raise CommandError(job.error)


def import_file(command: BaseCommand, *, kind: str, path, label: str, quiet: bool = False, **job_options):
    """Keep the file, run its import job with a progress bar, print the counts; fail with the row errors."""
    from django.core.exceptions import ValidationError

    from .imports import job_create, run
    from .models import ImportJob

    try:
        job = job_create(kind=kind, source=path, **job_options)
    except ValidationError as exc:
        raise CommandError("; ".join(exc.messages))
    job = run(job, progress=RichProgress(enabled=not quiet))
    command.stdout.write(f"{label}: job {job.pk} {job.status}")
    command.stdout.write(
        f"rows read {job.rows_read}, created {job.created}, updated {job.updated}, "
        f"unchanged {job.unchanged}, rejected {job.rejected}"
    )
    if job.status != ImportJob.Status.SUCCEEDED:
        fail_with_row_errors(command, job)
    return job


class SubcommandCommand(MobilityCommand):
    """A command whose subcommands live in modules with HELP, EXAMPLE, add_arguments() and handle()."""

    subcommands: dict = {}

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        for name, module in self.subcommands.items():
            p = sub.add_parser(
                name,
                help=module.HELP,
                epilog="Example:\n  " + module.EXAMPLE,
                formatter_class=parser.formatter_class,
            )
            module.add_arguments(p)

    def handle(self, *args, subcommand, **options):
        return self.subcommands[subcommand].handle(self, **options)


class RichProgress:
    """A rich progress bar on stderr that satisfies core.imports.Progress."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task = None

    def start(self, total, description):
        if not self.enabled:
            return
        if self._progress is None:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            self._progress.start()
        if self._task is not None:
            self._progress.update(self._task, completed=self._progress.tasks[self._task].total or 0)
        self._task = self._progress.add_task(description, total=total or None)

    def advance(self, n=1):
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)

    def finish(self):
        if self._progress is not None:
            if self._task is not None:
                task = self._progress.tasks[self._task]
                self._progress.update(self._task, total=task.completed)
            self._progress.stop()
            self._progress = None
            self._task = None
