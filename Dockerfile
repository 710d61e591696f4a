# The production-like image of docker-compose.yml: gunicorn for web, the same image for Celery.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=config.settings.production
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock pyproject.toml ./
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
RUN DJANGO_SECRET_KEY=build-only DJANGO_ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput
RUN useradd --system --uid 1000 shebao && chown -R shebao /app
USER shebao
EXPOSE 8000
ENV PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/', timeout=2)"
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
