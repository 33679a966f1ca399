"""`mobility backup`: the database, the uploaded files and the laptop keys in one archive."""

from mobility.core.backup import BackupError, backup_create
from mobility.core.command import MobilityCommand


class Command(MobilityCommand):
    help = (
        "Back up the database, uploaded files and laptop keys into one archive (safe while the server runs).\n"
        "The database is a consistent snapshot (SQLite online backup or pg_dump). The archive holds "
        "personal data and, unless --no-keys, the key files in var/ that decrypt it: protect it."
    )
    example = (
        "mobility backup\n"
        "mobility backup --output /mnt/usb/mobility-2026-11-30.tar.gz\n"
        "mobility backup --no-keys --output /srv/backups/"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            help="Archive to write, or a folder for it (default var/backups/mobility-backup-<UTC time>.tar.gz); "
            "an existing file is never overwritten",
        )
        parser.add_argument(
            "--no-keys",
            action="store_true",
            help="Leave out the key files in var/ (then keep them safe elsewhere: a restore needs them)",
        )
        parser.add_argument("--database", default="default", help="Database alias (default: default)")

    def handle(self, *args, output, no_keys, database, **options):
        try:
            backup_create(
                output=output or None,
                using=database,
                keys=not no_keys,
                report=self.stdout.write,
            )
        except BackupError as exc:
            self.fail(str(exc))
