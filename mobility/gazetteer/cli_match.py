"""TODO: owned by a helper."""

HELP = "TODO"
EXAMPLE = "mobility gazetteer match --help"


def add_arguments(parser):
    pass


def handle(command, **options):
    command.fail("not implemented yet")
