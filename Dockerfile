# Multi-stage build: compile in the Rust image, run on a slim Debian with only
# the binary (libpq, SQLite and OpenSSL are linked in statically by the build).
#   docker build -t conduit .
#   docker run -p 8080:8080 -e DATABASE_URL=postgres://... -e JWT_SECRET=... conduit
#   docker run --rm -e DATABASE_URL=postgres://... conduit migrate
FROM rust:1-bookworm AS build
WORKDIR /src
# Build dependencies first so source edits reuse the cached layer.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked && rm -rf src
COPY migrations migrations
COPY src src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --create-home conduit
WORKDIR /app
COPY --from=build /src/target/release/conduit /usr/local/bin/conduit
USER conduit
ENV HOST=0.0.0.0 PORT=8080 APP_ENV=production DATABASE_URL=/app/data/conduit.db
RUN mkdir -p /app/data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health/live || exit 1
ENTRYPOINT ["/usr/local/bin/conduit"]
CMD ["serve"]
