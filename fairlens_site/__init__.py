"""FairLens Django project: settings, URLs, Celery app and the shared API plumbing."""

from fairlens_site.celery import app as celery_app

__all__ = ["celery_app"]
