#!/usr/bin/env bash
# Fuzz a Conduit server binary against the RealWorld OpenAPI spec with
# schemathesis: a stateless phase (examples, coverage, fuzzing of every
# operation) and a stateful phase (sequences of calls along the links
# schemathesis infers from the spec). See fuzz/README.md.
#
# usage: fuzz/run.sh --binary PATH --db sqlite|postgres [--seconds N] [--seed S]
#                    [--examples N] [--stateful-examples N] [--checks LIST]
#                    [--spec PATH] [--no-nul]
#
# Exit status: 0 when both phases pass, 1 when a check failed, 2 on a usage or
# setup error. Reports: ${TMPDIR:-/tmp}/conduit-fuzz-*/ (printed at the end).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
tmp_root="${TMPDIR:-/tmp}"

usage() {
  sed -n '7,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() { echo "fuzz: $*" >&2; exit 2; }
log() { printf '\n==> %s\n' "$*"; }

binary="" db="" seconds="" seed=20251201 no_nul=""
examples=100          # per operation, stateless phase (examples-bounded: deterministic)
stateful_examples=1000 # scenarios, stateful phase
checks="not_a_server_error,status_code_conformance,response_schema_conformance"
spec="${FUZZ_SPEC:-$repo/../shared/spec/openapi.yml}"
pg_admin_url="${FUZZ_PG_ADMIN_URL:-${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}}"

while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="${2:?}"; shift 2 ;;
    --db) db="${2:?}"; shift 2 ;;
    --seconds) seconds="${2:?}"; shift 2 ;;
    --seed) seed="${2:?}"; shift 2 ;;
    --examples) examples="${2:?}"; shift 2 ;;
    --stateful-examples) stateful_examples="${2:?}"; shift 2 ;;
    --checks) checks="${2:?}"; shift 2 ;;
    --spec) spec="${2:?}"; shift 2 ;;
    --no-nul) no_nul=1; shift ;;
    -h|--help) usage ;;
    *) echo "fuzz: unknown argument: $1" >&2; usage ;;
  esac
done
[ -n "$binary" ] && [ -n "$db" ] || usage
[ -x "$binary" ] || die "not an executable: $binary"
case "$db" in sqlite|postgres) ;; *) die "--db must be sqlite or postgres" ;; esac
[ -f "$spec" ] || die "spec not found: $spec (set --spec or FUZZ_SPEC)"
for n in "$seed" "$examples" "$stateful_examples" ${seconds:+"$seconds"}; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "not a number: $n"
done
if [ -n "$seconds" ] && [ "$seconds" -lt 2 ]; then die "--seconds must be at least 2"; fi
binary="$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")"
spec="$(cd "$(dirname "$spec")" && pwd)/$(basename "$spec")"

# --- schemathesis, pinned --------------------------------------------------
venv="$tmp_root/conduit-fuzz-venv"
want="$(sed -n 's/^schemathesis==//p' "$here/requirements.txt")"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qx "schemathesis, version $want"; then
  log "installing schemathesis $want into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
fi
py="$venv/bin/python"
st="$venv/bin/schemathesis"

# --- work dir, cleanup -----------------------------------------------------
work="$(mktemp -d "$tmp_root/conduit-fuzz-$db-XXXXXX")"
server_pid="" pg_db=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local f
  for f in "$work"/*.pid; do
    [ -f "$f" ] || continue
    kill -TERM "$(cat "$f")" 2>/dev/null || true # timeout passes it on to schemathesis
    for _ in $(seq 1 25); do kill -0 "$(cat "$f")" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$(cat "$f")" 2>/dev/null || true
  done
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$pg_db" ]; then
    psql "$pg_admin_url" -qc "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null 2>&1 ||
      echo "fuzz: could not drop database $pg_db" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- database --------------------------------------------------------------
if [ "$db" = sqlite ]; then
  database_url="$work/conduit.db"
else
  command -v psql >/dev/null || die "psql is needed for --db postgres"
  pg_db="conduit_fuzz_$$_$(date +%s)"
  psql "$pg_admin_url" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$pg_db\"" >/dev/null ||
    { pg_db=""; die "cannot create a database through $pg_admin_url"; }
  database_url="$("$py" - "$pg_admin_url" "$pg_db" <<'EOF'
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))
EOF
)"
fi

# --- server ----------------------------------------------------------------
port="$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port/api"
log "starting $binary on $db, port $port (work dir $work)"
# A clean environment (and a cwd with no .env): the server runs on its
# defaults except for what is set here.
(cd "$work" && exec env -i PATH="$PATH" HOME="${HOME:-/root}" \
  APP_ENV=development HOST=127.0.0.1 PORT="$port" DATABASE_URL="$database_url" \
  JWT_SECRET="conduit-fuzz-jwt-secret-0123456789abcdef" RATE_LIMIT=off \
  LOG_FORMAT=text RUST_LOG="${FUZZ_RUST_LOG:-warn}" \
  "$binary" >"$work/server.log" 2>&1) &
server_pid=$!
for _ in $(seq 1 150); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; die "server exited during start-up"; }
  sleep 0.2
done
curl -fsS -o /dev/null "http://127.0.0.1:$port/health" || { cat "$work/server.log" >&2; die "server not ready after 30 s"; }

# --- seed data, spec, config -------------------------------------------------
"$py" "$here/seed.py" "$base" "$work" ${no_nul:+--no-nul}
"$py" "$here/patch_spec.py" "$spec" "$work/openapi.patched.json" "$base"
cat "$here/schemathesis.toml" "$work/seed.toml" >"$work/schemathesis.toml"
FUZZ_TOKEN="$(cat "$work/token")"
export FUZZ_TOKEN

# --- budgets ----------------------------------------------------------------
# Default: bounded by examples (same seed, same requests). --seconds N: the run
# is bounded by time instead, N/2 for each phase, fuzzing and stateful testing
# repeating until their share is spent (more coverage, less reproducible).
stateless_budget=(--max-examples "$examples")
stateful_budget=(--max-examples "$stateful_examples")
guard=900
# --no-nul: no NUL characters in generated strings (to look past the known
# PostgreSQL NUL failures; not for CI).
extra=()
if [ -n "$no_nul" ]; then extra+=(--generation-allow-x00 false); fi
if [ -n "$seconds" ]; then
  stateless_budget+=(--max-time "$((seconds / 2))")
  stateful_budget+=(--max-time "$((seconds - seconds / 2))")
  guard=$((seconds + 300))
fi

run_phase() { # name phases budget...
  local name="$1" phases="$2"; shift 2
  log "schemathesis: $name phase ($phases), seed $seed"
  local cmd=("$st" --config-file "$work/schemathesis.toml" --no-color run "$work/openapi.patched.json"
    --url "$base" --phases "$phases" --checks "$checks" --seed "$seed" "$@"
    --report junit,vcr --report-junit-path "$work/$name.junit.xml" --report-vcr-path "$work/$name.vcr.yaml"
    --report-dir "$work/$name-report")
  printf '%q ' "${cmd[@]}" >"$work/$name.cmd"; echo >>"$work/$name.cmd"
  # Piped through tee, stdout is no terminal: no progress bars, plain text.
  # Run in the background and waited for, so that a signal reaches the traps
  # at once; cleanup stops schemathesis through the pid file.
  (
    set +e
    (cd "$work" && echo "$BASHPID" >"$work/$name.pid" &&
      exec timeout --signal=INT --kill-after=30 "$guard" "${cmd[@]}") 2>&1 | tee "$work/$name.txt"
    echo "${PIPESTATUS[0]}" >"$work/$name.rc"
  ) &
  wait $! || true
  rm -f "$work/$name.pid"
  local rc
  rc="$(cat "$work/$name.rc" 2>/dev/null || echo 2)"
  return "$rc"
}

start=$SECONDS
stateless_rc=0 stateful_rc=0
run_phase stateless examples,coverage,fuzzing "${stateless_budget[@]}" ${extra[@]+"${extra[@]}"} || stateless_rc=$?
run_phase stateful stateful "${stateful_budget[@]}" ${extra[@]+"${extra[@]}"} || stateful_rc=$?
elapsed=$((SECONDS - start))

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "fuzz: the server died during the run; its log:" >&2
  tail -n 50 "$work/server.log" >&2
  [ "$stateful_rc" -ne 0 ] || stateful_rc=1
fi
if grep -qE 'panicked|ERROR' "$work/server.log"; then
  log "server log lines at ERROR level or panics ($work/server.log):"
  grep -m 20 -E 'panicked|ERROR' "$work/server.log"
fi

log "summary ($db, seed $seed, ${elapsed}s): stateless exit $stateless_rc, stateful exit $stateful_rc"
echo "reports in $work: {stateless,stateful}.junit.xml, .txt (schemathesis output), .vcr.yaml (every request and response), server.log"
if [ "$stateless_rc" -ne 0 ] || [ "$stateful_rc" -ne 0 ]; then
  echo "fuzz: FAILED"
  exit 1
fi
echo "fuzz: passed"
