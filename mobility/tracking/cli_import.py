"""Being written: `mobility tracking import`."""

HELP = "(not ready yet)"
EXAMPLE = "mobility tracking import --help"


def add_arguments(parser):
    pass


def handle(command, **options):
    command.fail("not implemented yet")
