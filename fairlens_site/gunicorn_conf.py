"""gunicorn settings for FairLens; `make run` and the container both use it."""

import os

bind = os.environ.get("FAIRLENS_BIND", f"127.0.0.1:{os.environ.get('PORT', '5050')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# FairLens logs each request itself (method, path, user, role, status, duration, request id).
accesslog = None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def when_ready(server: object) -> None:
    """Print which modules are active and which endpoints are served, once, when the server is up."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fairlens_site.settings.base")
    django.setup()
    from fairlens_site.startup import startup_summary

    print(startup_summary(bind), flush=True)  # noqa: T201 - the start-up summary is meant for the console
