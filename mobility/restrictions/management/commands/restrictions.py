"""`mobility restrictions SUBCOMMAND`: points of entry and travel restrictions from the command line."""

from mobility.core.command import SubcommandCommand

# Each helper module has HELP, EXAMPLE, add_arguments(parser) and handle(command, **options).
SUBCOMMANDS: dict = {}


class Command(SubcommandCommand):
    help = (
        "Points of entry and travel restrictions: import, record status changes, query as of a date, publish."
    )
    subcommands = SUBCOMMANDS

    @property
    def example(self) -> str:
        return "\n".join(module.EXAMPLE for module in SUBCOMMANDS.values())
