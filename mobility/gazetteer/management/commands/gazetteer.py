"""`mobility gazetteer SUBCOMMAND`: import p-code tables and boundaries, match names, place locations."""

from mobility.core.command import MobilityCommand

from ... import cli_import, cli_locations, cli_match

SUBCOMMANDS = {"import": cli_import, "match": cli_match, "locations": cli_locations}


class Command(MobilityCommand):
    help = "Gazetteer: import p-codes and boundaries, match names to p-codes, place locations."
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
