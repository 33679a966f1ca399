"""`mobility registration SUBCOMMAND`: registration, deduplication, assistance and data protection."""

from mobility.core.command import SubcommandCommand
from mobility.registration import cli_assist, cli_dedup, cli_dedup_run, cli_protect, cli_verify
from mobility.registration import cli_import as cli_import

# Each helper module has HELP, EXAMPLE, add_arguments(parser) and handle(command, **options).
# One line per subcommand module (keep them on their own lines).
SUBCOMMANDS: dict = {}
SUBCOMMANDS["new-key"] = cli_protect.NewKey
SUBCOMMANDS["rotate-key"] = cli_protect.RotateKey
SUBCOMMANDS["erase"] = cli_protect.Erase
SUBCOMMANDS["purge"] = cli_protect.Purge
SUBCOMMANDS["retention"] = cli_protect.Retention
SUBCOMMANDS["grant"] = cli_protect.Grant
SUBCOMMANDS["access-log"] = cli_protect.AccessLogExport
SUBCOMMANDS["import"] = cli_import
SUBCOMMANDS["dedup"] = cli_dedup
SUBCOMMANDS["verify"] = cli_verify
SUBCOMMANDS["assist"] = cli_assist
SUBCOMMANDS["dedup-run"] = cli_dedup_run


class Command(SubcommandCommand):
    help = (
        "Registration: import households, find duplicates, verify, record assistance, protect personal data."
    )
    subcommands = SUBCOMMANDS

    @property
    def example(self) -> str:
        return "\n".join(module.EXAMPLE for module in SUBCOMMANDS.values())
