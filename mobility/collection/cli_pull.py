"""(Being written.)"""

HELP = "(being written)"
EXAMPLE = "mobility collection --help"


def add_arguments(parser):
    pass


def handle(command, **options):
    command.fail("not yet")
