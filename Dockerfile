# syntax=docker/dockerfile:1
# Shopbot's one image: the bot (`shopbot run --webhook`), the scheduler (`shopbot scheduler`),
# migrations (`shopbot db upgrade`) and, for staging only, the simulated gateway (`shopbot gateway`).
# See docs/deploy.md.

# --- build: a virtual environment with the locked dependencies and the package, nothing else.
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/shopbot
WORKDIR /src
# Dependencies first, so a code change does not reinstall them; every file is hash-checked.
COPY requirements.lock ./
RUN /opt/shopbot/bin/pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY scheduler ./scheduler
COPY gateway ./gateway
COPY sandbox ./sandbox
COPY billers ./billers
RUN /opt/shopbot/bin/pip install --no-deps . \
    && /opt/shopbot/bin/pip uninstall -y pip

# --- run: the slim Python image, the venv, an unprivileged user; no compilers, no pip.
FROM python:3.11-slim-bookworm AS run
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/shopbot --create-home shopbot
COPY --from=build /opt/shopbot /opt/shopbot
ENV PATH=/opt/shopbot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SHOPBOT_DATA_DIR=/var/lib/shopbot \
    SHOPBOT_WEB_HOST=0.0.0.0 \
    SHOPBOT_WEB_PORT=8080
USER shopbot
WORKDIR /var/lib/shopbot
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
ENTRYPOINT ["shopbot"]
CMD ["run", "--webhook"]
