# The ledger server image: the package and its console script, nothing else.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ledger ./ledger
COPY projections ./projections
COPY api ./api
RUN pip install --no-cache-dir . && useradd --system --home /data ledger \
    && mkdir -p /data /keys && chown ledger /data /keys
USER ledger
ENV LEDGER_HOME=/data
EXPOSE 8000
CMD ["ledger", "serve", "--host", "0.0.0.0", "--port", "8000"]
