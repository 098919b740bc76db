#!/usr/bin/env bash
# Container smoke test: build the image, check its size, run `migrate`
# against PostgreSQL by host name with only DATABASE_URL, start the server
# with a non-default PORT on a read-only root filesystem as its numeric user
# with every capability dropped, wait for the HEALTHCHECK to report healthy,
# use the API, and stop it with SIGTERM expecting exit 0.
#
#   deploy/container-smoke.sh            # needs a Docker engine (see below)
#
# On a machine without an image registry, ../shared/tools/docker-offline-bases.sh
# (if present) provides the engine and the two base images first. PostgreSQL
# must listen on 127.0.0.1:5432 (trust auth, user postgres).
set -euo pipefail
cd "$(dirname "$0")/.."

image=${IMAGE:-conduit:smoke}
max_bytes=${MAX_IMAGE_BYTES:-20000000}
port=${SMOKE_PORT:-18099}
db=conduit_container_smoke
admin=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
name=conduit-smoke-$$
say() { printf '\n==> %s\n' "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

if ! docker info >/dev/null 2>&1 || ! docker image inspect rust:1-bookworm >/dev/null 2>&1; then
  bases=../shared/tools/docker-offline-bases.sh
  [ -x "$bases" ] || [ -f "$bases" ] || fail "no Docker engine or base image, and no $bases"
  say "starting Docker and building the base images"
  bash "$bases"
fi

cleanup() {
  docker rm -f "$name" >/dev/null 2>&1 || true
  psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

say "docker build"
started=$(date +%s)
docker build --network host -t "$image" . >/tmp/conduit-smoke-build.log 2>&1 ||
  { tail -40 /tmp/conduit-smoke-build.log; fail "build"; }
echo "built in $(( $(date +%s) - started )) s"

size=$(docker image inspect "$image" --format '{{.Size}}')
echo "image size: $size bytes ($(( size / 1000000 )) MB); limit $max_bytes"
[ "$size" -le "$max_bytes" ] || fail "image is larger than $max_bytes bytes"
user=$(docker image inspect "$image" --format '{{.Config.User}}')
[ "$user" = "10001:10001" ] || fail "image user is '$user', not 10001:10001"

psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
# A host name, not an IP: name resolution must work inside the image.
url="postgres://postgres@pg.internal:5432/$db?sslmode=disable"
net=(--network host --add-host pg.internal:127.0.0.1)

say "migrate with only DATABASE_URL (APP_ENV=production is the image default)"
docker run --rm "${net[@]}" --read-only -e DATABASE_URL="$url" "$image" migrate
server=${admin%%\?*}
tables=$(psql "${server%/*}/$db?sslmode=disable" -tAc "SELECT count(*) FROM pg_tables WHERE schemaname='public'")
echo "tables after migrate: $tables"
[ "$tables" -ge 8 ] || fail "migrate created $tables tables"

say "serve on PORT=$port, read-only root, no capabilities"
docker run -d --name "$name" "${net[@]}" --read-only --cap-drop ALL \
  --security-opt no-new-privileges \
  -e PORT="$port" -e DATABASE_URL="$url" -e RUN_MIGRATIONS=false \
  -e JWT_SECRET=smoke-test-secret-smoke-test-secret-0123 \
  -e SHUTDOWN_DRAIN_SECONDS=1 "$image" >/dev/null
started=$(date +%s)
for _ in $(seq 1 60); do
  state=$(docker inspect "$name" --format '{{.State.Health.Status}}')
  [ "$state" = healthy ] && break
  [ "$(docker inspect "$name" --format '{{.State.Running}}')" = true ] || { docker logs "$name"; fail "container exited"; }
  sleep 1
done
[ "$state" = healthy ] || { docker logs "$name"; fail "health is '$state'"; }
echo "healthy after $(( $(date +%s) - started )) s"
pid=$(docker inspect "$name" --format '{{.State.Pid}}')
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
[ "$uid" = 10001 ] || fail "server runs as uid $uid"
echo "server process runs as uid $uid"

api="http://127.0.0.1:$port/api"
token=$(curl -fsS -X POST "$api/users" -H 'content-type: application/json' \
  -d '{"user":{"username":"smoke","email":"smoke@example.com","password":"smoke password"}}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["token"])')
curl -fsS -X POST "$api/articles" -H "authorization: Token $token" -H 'content-type: application/json' \
  -d '{"article":{"title":"From the container","description":"d","body":"b","tagList":["smoke"]}}' >/dev/null
count=$(curl -fsS "$api/articles" | python3 -c 'import json,sys; print(json.load(sys.stdin)["articlesCount"])')
[ "$count" = 1 ] || fail "articlesCount is $count"
curl -fsS "http://127.0.0.1:$port/health" | grep -q '"database":"ok"' || fail "/health"

say "SIGTERM"
started=$(date +%s)
docker stop -t 30 "$name" >/dev/null
code=$(docker inspect "$name" --format '{{.State.ExitCode}}')
echo "stopped in $(( $(date +%s) - started )) s with exit code $code"
[ "$code" = 0 ] || { docker logs "$name" | tail -20; fail "exit code $code"; }
echo "OK"
