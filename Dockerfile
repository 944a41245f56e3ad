# One image: gunicorn serves the web app; the same image runs the Celery workers.
# `torch==2.13.0` from the registry is its CUDA build on Linux, for the GPU workers, and
# requirements-gpu.txt adds bitsandbytes for QLoRA (4-bit) fine-tuning there.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DEBUG=0 \
    VAR_DIR=/app/var

WORKDIR /app
COPY requirements.txt requirements-gpu.txt ./
RUN pip install -r requirements-gpu.txt

COPY . .
# Static files are collected at build time and served by WhiteNoise; a throwaway key for this step only.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    python manage.py collectstatic --noinput -v 0 \
    && mkdir -p /app/var/checkpoints \
    && useradd --create-home --uid 1000 app \
    && chown -R app /app/var
USER app

EXPOSE 8000
# gunicorn.conf.py binds 0.0.0.0:8000 and refuses to start with DEBUG on.
CMD ["gunicorn", "tracestudy.wsgi"]
