# syntax=docker/dockerfile:1
#
# The user-service image, with the migration CLI and the seed beside it:
#
#   docker build -t chatai/user-service .
#   docker run --rm -p 4001:4001 chatai/user-service    # embedded SQLite file /app/data/chatai.db
#   docker compose --profile app up -d --build          # against the compose file's PostgreSQL
#
# Configuration is the environment (DATABASE_URL or DATABASE_HOST/..., see .env.example); no .env
# file is copied in. The same image runs the migration CLI and the seed, e.g.
#   docker compose exec user-service migration status
#   docker compose exec user-service seed

# --- build --------------------------------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# The registry and target caches survive between builds (BuildKit); the binaries are copied out of
# the cached target directory in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p user-service -p migration -p seeds --bins \
    && cp target/release/user-service target/release/migration target/release/seed /usr/local/bin/

# --- run ----------------------------------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates for TLS to a managed database; curl for the container healthcheck.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin app
COPY --from=builder /usr/local/bin/user-service /usr/local/bin/migration /usr/local/bin/seed /usr/local/bin/
# The working directory belongs to `app`, so the embedded default (data/chatai.db, relative to
# it) can be created when no PostgreSQL is configured. Mount a volume on /app/data to keep it.
WORKDIR /app
RUN mkdir -p /app/data && chown -R app:app /app
USER app
ENV USER_SERVICE_HOST=0.0.0.0
EXPOSE 4001
CMD ["user-service"]
