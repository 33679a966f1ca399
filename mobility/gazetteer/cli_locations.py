"""TODO: owned by a helper."""

HELP = "TODO"
EXAMPLE = "mobility gazetteer locations --help"


def add_arguments(parser):
    pass


def handle(command, **options):
    command.fail("not implemented yet")
