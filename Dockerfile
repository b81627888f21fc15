# The ledger server image: the package and its console script, nothing else.
# The base image is pinned by version and by the digest of its multi-platform index
# (docker buildx imagetools inspect python:3.11.14-slim-bookworm shows the current
# one); the Python packages are installed exactly as requirements.lock lists them.
# No PostgreSQL is started in the image: compose gives DATABASE_URL (the server would
# start an embedded one only without it).
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements.lock ./
RUN pip install -r requirements.lock
COPY pyproject.toml README.md ./
COPY ledger ./ledger
COPY projections ./projections
COPY api ./api
RUN pip install --no-deps . && pip check \
    && useradd --system --home /data ledger \
    && mkdir -p /data /keys && chown ledger /data /keys
USER ledger
ENV LEDGER_HOME=/data
EXPOSE 8000
CMD ["ledger", "serve", "--host", "0.0.0.0", "--port", "8000"]
