"""`mobility restore PATH`: put a `mobility backup` archive back, then migrate it to this code."""

from pathlib import Path

from mobility.core.backup import BackupError, backup_restore
from mobility.core.command import MobilityCommand


class Command(MobilityCommand):
    help = (
        "Restore a `mobility backup` archive into the database and var/, then migrate it to this code.\n"
        "Checksums are verified before anything changes; a backup from newer code, or into a database "
        "that holds data (without --yes), is refused. Stop the server and the job worker first."
    )
    example = (
        "mobility restore var/backups/mobility-backup-20261130T020000Z.tar.gz\n"
        "mobility restore /mnt/usb/mobility-2026-11-30.tar.gz --yes"
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The .tar.gz written by `mobility backup`")
        parser.add_argument(
            "--yes",
            action="store_true",
            help="Replace a database that already holds data (uploads and keys it replaces are moved "
            "to var/replaced-<time>/)",
        )
        parser.add_argument("--database", default="default", help="Database alias (default: default)")

    def handle(self, *args, path, yes, database, **options):
        try:
            backup_restore(archive=Path(path), using=database, replace=yes, report=self.stdout.write)
        except BackupError as exc:
            self.fail(str(exc))
