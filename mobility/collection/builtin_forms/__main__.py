"""``python -m mobility.collection.builtin_forms``: write the ready-made workbooks under data/forms/."""

import os

import django

if __name__ == "__main__":  # pragma: no cover - a maintainer's tool
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mobility.settings")
    django.setup()
    from mobility.collection.builtin_forms import builtin_workbooks_write

    for written in builtin_workbooks_write():
        print(written)
