"""Being written: `mobility tracking publish`."""

HELP = "(not ready yet)"
EXAMPLE = "mobility tracking publish --help"


def add_arguments(parser):
    pass


def handle(command, **options):
    command.fail("not implemented yet")
