"""Being written: `mobility tracking events`."""

HELP = "(not ready yet)"
EXAMPLE = "mobility tracking events --help"


def add_arguments(parser):
    pass


def handle(command, **options):
    command.fail("not implemented yet")
