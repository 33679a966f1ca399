"""The docs are checked: every command, API path and setting a user can meet is documented."""

import re
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

REPO = Path(__file__).resolve().parent.parent
DOCS = "\n".join(p.read_text() for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))])


def mobility_commands():
    return sorted(name for name, app in get_commands().items() if str(app).startswith("mobility"))


@pytest.mark.parametrize("name", mobility_commands())
def test_every_command_has_an_example_and_is_documented(name):
    command = load_command_class(get_commands()[name], name)
    assert command.help, f"`mobility {name}` has no help"
    assert getattr(command, "example", ""), f"`mobility {name}` has no Example"
    assert f"mobility {name}" in DOCS, f"`mobility {name}` is not in README.md or docs/"


def test_every_api_path_is_in_the_api_guide(client, db):
    spec = client.get("/api/v1/openapi.json").json()
    guide = (REPO / "docs" / "api.md").read_text()
    missing = [path for path in spec["paths"] if path not in guide]
    assert not missing, f"undocumented in docs/api.md: {missing}"


def test_every_environment_setting_is_in_the_deployment_guide():
    settings_source = (REPO / "mobility" / "settings.py").read_text()
    names = set(re.findall(r'env(?:_bool|_list)?\("([A-Z_]+)"', settings_source))
    names |= set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', settings_source))
    guide = (REPO / "docs" / "deployment.md").read_text()
    missing = sorted(n for n in names if f"`{n}`" not in guide)
    assert not missing, f"undocumented in docs/deployment.md: {missing}"


def test_the_readme_has_the_two_commands():
    readme = (REPO / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
