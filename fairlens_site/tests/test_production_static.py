"""With DEBUG off, pages name files of the collected static manifest: `make run` and the image collect them."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
MANIFEST_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


def test_make_run_and_the_image_collect_static_files() -> None:
    makefile = (ROOT / "Makefile").read_text()
    prepare = makefile.split("serve-prepare: install\n", 1)[1].split("\n\n", 1)[0]
    assert "manage.py collectstatic --noinput" in prepare  # `DJANGO_DEBUG=false make run` served 500s without it
    assert "manage.py collectstatic --noinput" in (ROOT / "Dockerfile").read_text()


@pytest.mark.django_db
def test_pages_render_with_the_production_manifest_storage(tmp_path: Path) -> None:
    with override_settings(
        DEBUG=False,
        STORAGES=MANIFEST_STORAGES,
        STATIC_ROOT=str(tmp_path),
        WHITENOISE_USE_FINDERS=False,
        WHITENOISE_AUTOREFRESH=False,
    ):
        # given the static files collected as serve-prepare does
        call_command("collectstatic", "--noinput", verbosity=0)
        client = Client()
        # when the login page is asked for with DEBUG off
        page = client.get(reverse("web-login"))
        # then it renders, naming the hashed stylesheet, which WhiteNoise serves
        assert page.status_code == 200
        stylesheet = next(
            word.split('"')[1] for word in page.content.decode().split() if word.startswith('href="/static/web/app.')
        )
        assert stylesheet != "/static/web/app.css"
        assert client.get(stylesheet).status_code == 200
