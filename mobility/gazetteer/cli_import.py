"""TODO: owned by a helper."""

HELP = "TODO"
EXAMPLE = "mobility gazetteer import --help"


def add_arguments(parser):
    pass


def handle(command, **options):
    command.fail("not implemented yet")
