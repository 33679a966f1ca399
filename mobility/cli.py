"""The `mobility` console command: Django's management commands with Mobility's settings preset."""

from __future__ import annotations

import os
import sys

MOBILITY_APPS = ("mobility.core", "mobility.gazetteer", "mobility.web")


def _overview() -> str:
    import django
    from django.core.management import get_commands, load_command_class

    django.setup()
    lines = [
        "Usage: mobility COMMAND [ARGS]  (mobility COMMAND --help for details)",
        "",
        "Mobility commands:",
    ]
    for name, app in sorted(get_commands().items()):
        if not str(app).startswith("mobility"):
            continue
        command = load_command_class(app, name)
        summary = (command.help or "").strip().splitlines()[0] if command.help else ""
        lines.append(f"  {name:<14} {summary}")
        for example in (getattr(command, "example", "") or "").strip().splitlines():
            lines.append(f"  {'':<14}   e.g. {example.strip()}")
    lines += [
        "",
        "Django's own commands (migrate, runserver, createsuperuser, ...) work too: mobility help --commands",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mobility.settings")
    argv = list(sys.argv if argv is None else argv)
    if len(argv) == 1 or argv[1] in {"-h", "--help"}:
        print(_overview())
        return
    from django.core.management import execute_from_command_line

    execute_from_command_line(["mobility", *argv[1:]])


if __name__ == "__main__":
    main()
