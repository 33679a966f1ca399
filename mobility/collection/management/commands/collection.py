"""`mobility collection SUBCOMMAND`: publish forms, pull from Kobo / Central, re-process submissions."""

from mobility.collection import cli_forms, cli_process, cli_pull
from mobility.core.command import SubcommandCommand

SUBCOMMANDS = {
    "publish-form": cli_forms,
    "pull": cli_pull,
    "reprocess": cli_process,
}


class Command(SubcommandCommand):
    help = "Data collection: publish XLSForms, pull submissions from KoboToolbox / ODK Central, re-process."
    example = "\n".join(module.EXAMPLE for module in SUBCOMMANDS.values())
    subcommands = SUBCOMMANDS
