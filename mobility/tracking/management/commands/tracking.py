"""`mobility tracking SUBCOMMAND`: import assessment data, publish a round through the disclosure check."""

from mobility.core.command import MobilityCommand
from mobility.publishing import cli_publish
from mobility.tracking import cli_events, cli_import

SUBCOMMANDS = {"import": cli_import, "publish": cli_publish, "events": cli_events}


class Command(MobilityCommand):
    help = "Mobility tracking: import assessments and events, publish a round through disclosure control."
    example = "\n".join(module.EXAMPLE for module in SUBCOMMANDS.values())

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        for name, module in SUBCOMMANDS.items():
            p = sub.add_parser(
                name,
                help=module.HELP,
                epilog="Example:\n  " + module.EXAMPLE,
                formatter_class=parser.formatter_class,
            )
            module.add_arguments(p)

    def handle(self, *args, subcommand, **options):
        return SUBCOMMANDS[subcommand].handle(self, **options)
