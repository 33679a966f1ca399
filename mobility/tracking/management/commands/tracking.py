"""`mobility tracking SUBCOMMAND`: import assessment data, publish a round through the disclosure check."""

from mobility.core.command import SubcommandCommand
from mobility.publishing import cli_publish
from mobility.tracking import cli_events, cli_import

SUBCOMMANDS = {"import": cli_import, "publish": cli_publish, "events": cli_events}


class Command(SubcommandCommand):
    help = "Mobility tracking: import assessments and events, publish a round through disclosure control."
    example = "\n".join(module.EXAMPLE for module in SUBCOMMANDS.values())
    subcommands = SUBCOMMANDS
