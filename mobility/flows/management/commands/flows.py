"""`mobility flows SUBCOMMAND`: flow monitoring from the command line."""

from mobility.core.command import SubcommandCommand
from mobility.flows import cli_estimate, cli_import, cli_publish, cli_totals

# Each helper module has HELP, EXAMPLE, add_arguments(parser) and handle(command, **options).
SUBCOMMANDS: dict = {}
SUBCOMMANDS["estimate"] = cli_estimate
SUBCOMMANDS["publish"] = cli_publish
SUBCOMMANDS["import"] = cli_import
SUBCOMMANDS["totals"] = cli_totals


class Command(SubcommandCommand):
    help = "Flow monitoring: import counts and points, check totals, compute estimates, publish."
    subcommands = SUBCOMMANDS

    @property
    def example(self) -> str:
        return "\n".join(module.EXAMPLE for module in SUBCOMMANDS.values())
