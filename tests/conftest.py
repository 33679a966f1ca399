"""Shared fixtures: users with roles, operations, and paths to the real data in ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobility.core.models import Role

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
DEMO_DATA = REPO / "mobility" / "gazetteer" / "data"


def shared(relative: str) -> Path:
    """A file under ../shared/data, or skip the test with a clear reason when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"needs ../shared/data/{relative} (the shared test data is not beside this clone)")
    return path


@pytest.fixture
def operation(db):
    from mobility.core.services import operation_create

    return operation_create(name="Mozambique — Cabo Delgado", country_iso3="MOZ")


@pytest.fixture
def other_operation(db):
    from mobility.core.services import operation_create

    return operation_create(name="Pakistan — Floods", country_iso3="PAK")


def _user(django_user_model, username, operation=None, role=None, **extra):
    user = django_user_model.objects.create_user(username=username, password="a-long-test-password", **extra)
    if operation is not None and role is not None:
        from mobility.core.models import Membership

        Membership.objects.create(user=user, operation=operation, role=role)
    return user


@pytest.fixture
def admin_user(db, django_user_model):
    return _user(django_user_model, "root", is_superuser=True, is_staff=True)


@pytest.fixture
def data_manager(db, django_user_model, operation):
    return _user(django_user_model, "imo", operation, Role.DATA_MANAGER)


@pytest.fixture
def viewer(db, django_user_model, operation):
    return _user(django_user_model, "reader", operation, Role.VIEWER)


@pytest.fixture
def enumerator(db, django_user_model, operation):
    return _user(django_user_model, "enum", operation, Role.ENUMERATOR)


@pytest.fixture
def outsider(db, django_user_model, other_operation):
    """A data manager of another operation."""
    return _user(django_user_model, "outsider", other_operation, Role.DATA_MANAGER)


@pytest.fixture
def browser(live_server, monkeypatch):
    """Debian's chromium driven by Playwright, against the live test server (see tests/browser.py)."""
    from tests.browser import launched_browser

    yield from launched_browser(monkeypatch)


@pytest.fixture
def page(browser):
    """A 1280 px page of the browser that fails the test on any JavaScript error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
