# FairLens production image: gunicorn (web), Celery worker and beat all run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_STATIC_ROOT=/app/staticfiles \
    FAIRLENS_VAR_DIR=/app/var \
    FAIRLENS_BIND=0.0.0.0:8000

WORKDIR /app
RUN useradd --create-home --uid 10001 fairlens
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Static files are collected with throwaway secrets that are not kept in the image.
RUN DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    JWT_SECRET="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    FERNET_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    FAIRLENS_ID_PEPPER="$(python -c 'import secrets; print(secrets.token_urlsafe(32))')" \
    AUDIT_SIGNING_KEY="$(python -c 'from core.env import _new_ed25519_pem; print(_new_ed25519_pem())')" \
    FAIRLENS_VAR_DIR=/tmp/build-var \
    python manage.py collectstatic --noinput \
    && rm -rf /tmp/build-var \
    && mkdir -p /app/var && chown -R fairlens /app/var

USER fairlens
EXPOSE 8000
CMD ["gunicorn", "fairlens_site.wsgi", "-c", "fairlens_site/gunicorn_conf.py"]
