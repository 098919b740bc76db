# Multi-stage build: compile in the Rust image, ship the stripped binary on
# `scratch` with only what it needs at run time: glibc's loader and the three
# libraries it links (libc, libm, libgcc_s; SQLite, libpq and OpenSSL are
# compiled in), CA certificates, and passwd/group entries for its numeric
# user (libpq looks the user up). No shell, no package manager.
#   docker build --network host -t conduit .
#   docker run -p 8080:8080 -e DATABASE_URL=postgres://... -e JWT_SECRET=... conduit
#   docker run --rm -e DATABASE_URL=postgres://... conduit migrate
FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, so a source-only change reuses this layer.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked && rm -rf src
COPY migrations migrations
COPY src src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked \
    && strip target/release/conduit
# The final image's root: the binary, what the loader resolves (ldd), and
# the few files glibc and libpq read.
RUN mkdir -p /out/etc/ssl/certs /out/data /out/tmp \
    && cp target/release/conduit /out/conduit \
    && for lib in $(ldd target/release/conduit | awk '$3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}'); do \
         cp --parents -L "$lib" /out; \
       done \
    && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ \
    && echo 'conduit:x:10001:10001:conduit:/data:/nonexistent' > /out/etc/passwd \
    && echo 'conduit:x:10001:' > /out/etc/group \
    && echo 'hosts: files dns' > /out/etc/nsswitch.conf \
    && chown 10001:10001 /out/data && chmod 1777 /out/tmp

FROM scratch
COPY --from=build /out /
# Numeric, so `runAsNonRoot` can verify it without reading /etc/passwd.
USER 10001:10001
# SQLite (the default without DATABASE_URL) lives on the /data volume, so
# the root filesystem can be read-only.
ENV HOST=0.0.0.0 PORT=8080 APP_ENV=production DATABASE_URL=/data/conduit.db \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
WORKDIR /data
VOLUME /data
EXPOSE 8080
# Asks /health/live on HOST:PORT, so a changed PORT stays healthy.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/conduit", "healthcheck"]
ENTRYPOINT ["/conduit"]
CMD ["serve"]
