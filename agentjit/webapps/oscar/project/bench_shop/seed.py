"""Seed a bench shop data directory in one process: `python -m bench_shop.seed CATALOGUE.csv`.

Runs with DJANGO_SETTINGS_MODULE=bench_shop.settings and SHOP_DATA_DIR set. Prints one
`step seconds` line per step so the caller can report where the time went.
"""

import shutil
import sys
import time
from pathlib import Path

import django
from django.conf import settings
from django.core.management import call_command

USERS = (
    # (username, email, password, first name, last name, superuser)
    ("admin", "admin@example.com", "admin-pass", "Ada", "Admin", True),
    ("alice", "alice@example.com", "alice-pass", "Alice", "Tester", False),
)


def create_users() -> None:
    from django.contrib.auth.models import User

    for username, email, password, first, last, is_admin in USERS:
        make = User.objects.create_superuser if is_admin else User.objects.create_user
        make(username, email, password, first_name=first, last_name=last)


def copy_missing_image() -> None:
    # Products without images show Oscar's placeholder, which thumbnails from MEDIA_ROOT.
    import oscar

    source = Path(oscar.__file__).parent / "static" / "oscar" / "img" / "image_not_found.jpg"
    media = Path(settings.MEDIA_ROOT)
    media.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, media / settings.OSCAR_MISSING_IMAGE_URL)


def main(csv_path: str) -> None:
    django.setup()
    steps = [
        ("migrate", lambda: call_command("migrate", interactive=False, verbosity=0)),
        ("countries", lambda: call_command("oscar_populate_countries")),
        ("catalogue", lambda: call_command("oscar_import_catalogue", csv_path)),
        ("index", lambda: call_command("rebuild_index", interactive=False, verbosity=0)),
        ("users", create_users),
        ("media", copy_missing_image),
    ]
    for name, step in steps:
        started = time.monotonic()
        step()
        print(f"{name} {time.monotonic() - started:.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
