"""`mobility jobs recover`: after a crash, fail the import jobs a dead process left running, re-queue
lost ones and remove orphan upload files (core.recovery; the worker also does it when it starts)."""

import datetime as dt

from mobility.core.command import MobilityCommand


class Command(MobilityCommand):
    help = "Background import jobs: recover after a crash (interrupted jobs failed to run again, orphan files removed)."
    example = "mobility jobs recover\nmobility jobs recover --all-running --grace-minutes 0"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        recover = sub.add_parser(
            "recover",
            help="Fail the jobs of dead processes, re-queue lost jobs, remove orphan files.",
        )
        recover.add_argument(
            "--all-running",
            action="store_true",
            help="Also fail running jobs this machine cannot check (started elsewhere): only when no "
            "worker runs anywhere.",
        )
        recover.add_argument(
            "--grace-minutes",
            type=float,
            default=10,
            help="Spare queued jobs and files younger than this (default 10).",
        )

    def handle(self, *args, subcommand, all_running, grace_minutes, **options):
        from mobility.core.recovery import jobs_recover

        if grace_minutes < 0:
            self.fail("--grace-minutes cannot be negative.")
        result = jobs_recover(all_running=all_running, grace=dt.timedelta(minutes=grace_minutes))
        for line in result.lines() or ["Nothing to recover."]:
            self.stdout.write(line)
