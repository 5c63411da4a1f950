# newsflow worker image: `docker build -t newsflow .`, then `docker run newsflow [worker|...]`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    OPENBLAS_NUM_THREADS=1

WORKDIR /app

# Pinned dependencies first: this layer is rebuilt only when the lock file changes.
COPY requirements.lock ./
RUN pip install -r requirements.lock

COPY . .
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --user-group --create-home newsflow \
    && mkdir -p /data \
    && chown newsflow:newsflow /data

USER newsflow

# Table state (RocksDB) lives here; NEWSFLOW_DATA_DIR points at it.
ENV NEWSFLOW_DATA_DIR=/data \
    NEWSFLOW_WEB_HOST=0.0.0.0
VOLUME ["/data"]

# /metrics and Faust's web views (NEWSFLOW_WEB_PORT).
EXPOSE 6066

ENTRYPOINT ["newsflow"]
CMD ["worker"]
