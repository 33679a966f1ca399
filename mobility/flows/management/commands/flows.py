"""`mobility flows SUBCOMMAND`: flow monitoring from the command line."""

from mobility.core.command import SubcommandCommand

# Each helper module has HELP, EXAMPLE, add_arguments(parser) and handle(command, **options).
SUBCOMMANDS: dict = {}


class Command(SubcommandCommand):
    help = "Flow monitoring: import counts and points, check totals, compute estimates, publish."
    subcommands = SUBCOMMANDS

    @property
    def example(self) -> str:
        return "\n".join(module.EXAMPLE for module in SUBCOMMANDS.values())
