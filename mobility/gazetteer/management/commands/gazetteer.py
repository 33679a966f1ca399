"""`mobility gazetteer SUBCOMMAND`: import p-code tables and boundaries, match names, place locations."""

from mobility.core.command import SubcommandCommand

from ... import cli_import, cli_locations, cli_match

SUBCOMMANDS = {"import": cli_import, "match": cli_match, "locations": cli_locations}


class Command(SubcommandCommand):
    help = "Gazetteer: import p-codes and boundaries, match names to p-codes, place locations."
    example = "\n".join(module.EXAMPLE for module in SUBCOMMANDS.values())
    subcommands = SUBCOMMANDS
