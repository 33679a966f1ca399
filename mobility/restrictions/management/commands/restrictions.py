"""`mobility restrictions SUBCOMMAND`: points of entry and travel restrictions from the command line."""

from mobility.core.command import SubcommandCommand
from mobility.restrictions.cli import SUBCOMMANDS as RESTRICTIONS_SUBCOMMANDS

# Each helper module has HELP, EXAMPLE, add_arguments(parser) and handle(command, **options).
SUBCOMMANDS: dict = {**RESTRICTIONS_SUBCOMMANDS}


class Command(SubcommandCommand):
    help = (
        "Points of entry and travel restrictions: import, record status changes, query as of a date, publish."
    )
    subcommands = SUBCOMMANDS

    @property
    def example(self) -> str:
        return "\n".join(module.EXAMPLE for module in SUBCOMMANDS.values())
