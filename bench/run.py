#!/usr/bin/env python3
"""Conduit benchmark: build, seed, load, report. See bench/README.md.

    python3 bench/run.py --db postgres --size small
    python3 bench/run.py --db sqlite --size small --duration 15
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import subprocess
import sys
import threading
import time
import venv
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, TypeVar

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV = BENCH / ".venv"
WORK = BENCH / "work"          # gitignored scratch: logs, rotation lists, SQLite file
RESULTS = BENCH / "results"
JWT_SECRET = "bench-jwt-secret-0123456789-abcdefghijklmnop"


def ensure_venv() -> None:
    """Re-run this script inside bench/.venv (matplotlib, argon2-cffi), creating it once."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = VENV / "bin" / "python"
    if not python.exists():
        venv.create(VENV, with_pip=True)
    check = subprocess.run([str(python), "-c", "import matplotlib, argon2"], capture_output=True)
    if check.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r",
                        str(BENCH / "requirements.txt")], check=True)
    os.execv(str(python), [str(python), str(Path(sys.argv[0]).resolve()), *sys.argv[1:]])


ensure_venv()

from conduit_bench import report, seed, tools  # noqa: E402
from conduit_bench.scenarios import (  # noqa: E402
    PGBENCH, SCENARIOS, Scenario, db_ceiling_scripts, hash_ceiling, measure,
    open_loop_runs, run_open_loop, run_pgbench, run_wrk,
)
from conduit_bench.server import RssSampler, Server, ServerConfig, http_status  # noqa: E402


# Server settings of --no-response-cache.
NO_CACHE_ENV = {"CACHE_MAX_AGE_SECONDS": "0", "CACHE_SIGNED_IN_MS": "0"}

# The read scenario whose open-loop p99 is compared with and without a login flood.
FLOOD_READ = "list_auth"
FLOOD_PAIRS = 3

# /health/live, the floor beside the open-loop rows and the 10,000-connection
# run, whichever scenarios --only picks.
FRAMEWORK = next(s for s in SCENARIOS if s.name == "health_live")


# Scenarios that write; after each, and after the pgbench ceilings, the
# database is vacuumed if the server's autovacuum is off.
WRITES = {"create", "mix"}


def autovacuum_off(db: str, database_url: str) -> bool:
    return db == "postgres" and seed.psql(database_url, "-c", "SHOW autovacuum").strip() == "off"


def settle(db: str, database_url: str, vacuums: bool) -> None:
    """After a writing scenario (PostgreSQL). If autovacuum is off, what it
    would do to a table after this many writes: without it the 16
    site-counter rows, updated by every create, leave their dead versions in
    place, so each list request's read of them went from 1 page to 81 after
    a full run's creates, and the reads measured after the writes measured
    the bloat. Then a checkpoint, which also has the kernel write out every
    page PostgreSQL changed: the creates add ~1.4 million articles (GBs),
    which should be on disk before the next measurement starts rather than
    be written back during it."""
    if db != "postgres":
        return
    if vacuums:
        seed.psql(database_url, "-c", "VACUUM ANALYZE")
    seed.psql(database_url, "-c", "CHECKPOINT")


T = TypeVar("T")


def median_by(items: list[T], key: Callable[[T], float]) -> T:
    """The item with the median key (the lower middle one of an even count):
    a scenario's median run is reported with its own latencies and
    per-request figures, not a mix of runs."""
    return sorted(items, key=key)[(len(items) - 1) // 2]


def open_loop_median(base_url: str, scenario: Scenario, rate: float,
                     args: argparse.Namespace, data_dir: Path, token: str) -> dict:
    """--repeat open-loop measurements back to back (the first after the
    warm-up), the one with the median p99 reported with every p99 beside it:
    a burst of CPU from another process on the shared cores can take one
    measurement's tail (`bench/README.md`)."""
    tries = [run_open_loop(base_url, scenario, rate, args.duration, args.connections,
                           data_dir, token, args.warmup if i == 0 else 0)
             for i in range(args.repeat)]
    row = median_by(tries, lambda t: t["p99_ms"])
    return dict(row, runs_p99_ms=[t["p99_ms"] for t in tries])


def measure_login_flood(server: Server, scenarios: list[Scenario], by_name: dict,
                        args: argparse.Namespace, data_dir: Path, token: str) -> dict:
    """Open-loop p99 of FLOOD_READ at half its peak, alone and then while wrk
    floods /api/users/login at full concurrency, back to back; FLOOD_PAIRS
    such pairs, since a p99 of a few milliseconds on shared cores is noisy.
    The headline is the median of the pairs' ratios."""
    read = next(s for s in scenarios if s.name == FLOOD_READ)
    login = next(s for s in scenarios if s.name == "login")
    rate = by_name[FLOOD_READ]["load"]["rps"] / 2
    pairs = []
    for i in range(FLOOD_PAIRS):
        log(f"login flood {i + 1}/{FLOOD_PAIRS}: {FLOOD_READ} at {rate:,.0f} req/s alone, "
            "then during the flood")
        alone = run_open_loop(server.base_url, read, rate, args.duration, args.connections,
                              data_dir, token, args.warmup)
        flood: list = []
        # Outlasts the measurement: 2 s ahead of it, and a second per oha run
        # for the gaps between them.
        flood_s = args.duration + 4 + open_loop_runs(rate, args.duration)
        flooder = threading.Thread(target=lambda: flood.append(run_wrk(
            server.base_url, login, flood_s, args.connections, args.threads,
            data_dir, seed.PASSWORD)))
        flooder.start()
        time.sleep(2)  # the flood is at full strength before the measurement starts
        during = run_open_loop(server.base_url, read, rate, args.duration, args.connections,
                               data_dir, token)
        flooder.join()
        logins = asdict(flood[0]) if flood else None
        ratio = during["p99_ms"] / alone["p99_ms"] if alone["p99_ms"] else None
        log(f"  p99 {alone['p99_ms']:.2f} ms alone, {during['p99_ms']:.2f} ms during the flood"
            f" ({ratio or 0:.2f}x); logins {logins and logins['rps']} req/s")
        pairs.append({"alone": alone, "during": during, "login": logins,
                      "p99_ratio": round(ratio, 2) if ratio else None})
        time.sleep(3)  # queued logins of the finished flood drain before the next pair
    ratios = [p["p99_ratio"] for p in pairs if p["p99_ratio"] is not None]
    return {"read": FLOOD_READ, "rate": round(rate), "pairs": pairs,
            "median_p99_ratio": statistics.median(ratios) if ratios else None}


C10K = 10_000
SOAK_SHARE = 0.7


C10K_SETTLE_S = 15


def measure_c10k(server: Server, scenarios: list[Scenario], by_name: dict,
                 args: argparse.Namespace, data_dir: Path) -> dict:
    """The tags scenario with 10,000 concurrent keep-alive connections, beside
    its 64-connection figure."""
    tags = next(s for s in scenarios if s.name == "tags")
    with RssSampler(server) as rss:
        load = run_wrk(server.base_url, tags, args.duration, C10K, args.threads, data_dir,
                       seed.PASSWORD)
    base = by_name["tags"]["load"]["rps"]
    result = {"connections": C10K, "scenario": "tags", "load": asdict(load),
              "peak_rss_mib": round(rss.peak_kib / 1024, 1),
              "ratio_to_64": round(load.rps / base, 2) if base else None}
    # The same drop measured on the framework alone (/health/live at 10,000
    # connections against its own 64-connection figure) separates what the
    # load generator and the kernel lose at this many sockets from what the
    # service loses.
    if "health_live" in by_name:
        fw = run_wrk(server.base_url, FRAMEWORK, args.duration, C10K, args.threads, data_dir,
                     seed.PASSWORD)
        fw_base = by_name["health_live"]["load"]["rps"]
        result["framework"] = {"load": asdict(fw),
                               "ratio_to_64": round(fw.rps / fw_base, 2) if fw_base else None}
    # What the server keeps once the connections are gone: the resident set
    # C10K_SETTLE_S after the last run ended, with no load.
    time.sleep(C10K_SETTLE_S)
    memory = server.memory_kib()
    result["rss_after_mib"] = round(memory.get("VmRSS", 0) / 1024, 1)
    result["rss_anon_after_mib"] = round(memory.get("RssAnon", 0) / 1024, 1)
    result["settle_s"] = C10K_SETTLE_S
    return result


def measure_soak(server: Server, scenarios: list[Scenario], by_name: dict,
                 args: argparse.Namespace, data_dir: Path) -> dict:
    """The mix at about 70 % of its peak for --soak seconds (each wrk
    connection pauses between requests), with the server's RSS sampled every
    second: zero errors, and the last minute's RSS within 10 % of the first's."""
    mix = next(s for s in scenarios if s.name == "mix")
    peak = by_name["mix"]["load"]["rps"]
    target = SOAK_SHARE * peak
    delay_ms = args.connections * 1000 / target
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        t0 = time.monotonic()
        while not stop.wait(1.0):
            try:
                samples.append((time.monotonic() - t0,
                                server.memory_kib().get("VmRSS", 0) / 1024))
            except OSError:
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        load = run_wrk(server.base_url, mix, args.soak, args.connections, args.threads,
                       data_dir, seed.PASSWORD, delay_ms=delay_ms)
    finally:
        stop.set()
        sampler.join()
    first = [r for t, r in samples if t <= 60]
    last = [r for t, r in samples if t >= args.soak - 60]
    first_avg = statistics.mean(first) if first else 0.0
    last_avg = statistics.mean(last) if last else 0.0
    return {"seconds": args.soak, "target_rps": round(target), "mix_peak_rps": peak,
            "load": asdict(load), "rss_first_minute_mib": round(first_avg, 1),
            "rss_last_minute_mib": round(last_avg, 1),
            "rss_change": round(last_avg / first_avg - 1, 3) if first_avg else None,
            "rss_samples": [[round(t), round(r, 1)] for t, r in samples[::10]]}


class ServerDied(Exception):
    """The server process ended in the middle of the run."""


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    p.add_argument("--size", choices=sorted(seed.SIZES), default="small")
    p.add_argument("--duration", type=float, default=15, help="seconds per scenario (default 15)")
    p.add_argument("--repeat", type=positive_int, default=3,
                   help="closed-loop runs per scenario and pgbench runs per ceiling; the median "
                        "is reported (default 3: back-to-back runs on shared cores differ by "
                        "up to ~20 %%)")
    p.add_argument("--warmup", type=float, default=2, help="warm-up seconds per scenario")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--port", type=int, default=18080)
    p.add_argument("--pool-size", type=int, default=None,
                   help="DATABASE_POOL_MAX_SIZE (default: the server's own, 4 x cores)")
    p.add_argument("--only", default="", help="comma-separated scenario names (default: all); such a run "
                        "writes DB-SIZE[-nocache]-partial.* and leaves the full report alone")
    p.add_argument("--no-build", action="store_true", help="use the existing release binary")
    p.add_argument("--no-open-loop", action="store_true")
    p.add_argument("--no-c10k", action="store_true",
                   help="skip the 10,000-connection run of the tags scenario")
    p.add_argument("--soak", type=float, default=600,
                   help="seconds of the soak: mix at 70%% of its peak (0: skip; default 600)")
    p.add_argument("--no-response-cache", action="store_true",
                   help="run the server with its in-memory response cache off (every request "
                        "reaches the database); results go to DB-SIZE-nocache.*")
    p.add_argument("--growth", action="store_true",
                   help="after a small run: seed the large dataset (100,000 users, 1,000,000 "
                        "articles) and run the read scenarios on it; p50 against this run's "
                        "(target <= 1.5x), counters checked, in the same report")
    args = p.parse_args()
    if args.growth and args.size != "small":
        p.error("--growth compares against a small run: use it with --size small")
    return args


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", flush=True)


def fresh_database(db: str, size: str) -> str:
    if db == "postgres":
        return seed.recreate_postgres("conduit_bench")
    return seed.recreate_sqlite(WORK / f"conduit-bench-{size}.sqlite")


def server_config(args: argparse.Namespace, binary: Path, database_url: str) -> ServerConfig:
    return ServerConfig(binary=binary, database_url=database_url, port=args.port,
                        jwt_secret=JWT_SECRET, log_path=WORK / f"server-{args.db}-{args.size}.log",
                        pool_max_size=args.pool_size, extra_env=NO_CACHE_ENV if args.no_response_cache else {})


def shared_password_hash(args: argparse.Namespace, config: ServerConfig) -> str:
    """Register one user through the API (runs the migrations too) and return its hash."""
    server = Server(config)
    server.start()
    try:
        seed.register_user(server.base_url, "benchseed", "benchseed@bench.example", seed.PASSWORD)
    finally:
        server.stop()
    return seed.password_hash(args.db, config.database_url, "benchseed")


def seed_fresh(args: argparse.Namespace, config: ServerConfig,
               size: seed.Size) -> tuple[str, float, dict]:
    """Registers the user whose hash every seeded user shares (the server runs
    the migrations), seeds `size` and checks every counter column: the
    password hash, the seconds seeding took and the row counts."""
    pw_hash = shared_password_hash(args, config)
    log(f"seeding {size.users:,} users, {size.articles:,} articles")
    t0 = time.monotonic()
    if args.db == "postgres":
        seed.seed_postgres(config.database_url, size, args.seed, pw_hash)
    else:
        seed.seed_sqlite(config.database_url, size, args.seed, pw_hash)
    seed_s = time.monotonic() - t0
    rows = seed.table_counts(args.db, config.database_url)
    mismatches = seed.counter_mismatches(args.db, config.database_url)
    log(f"seeded in {seed_s:.1f}s: {rows}; counter mismatches {mismatches}")
    if any(mismatches.values()):
        raise RuntimeError(f"inconsistent counters after seeding: {mismatches}")
    return pw_hash, seed_s, rows


# Read scenarios whose p50 the growth phase compares (the list, feed,
# article and tags; the target, 1.5x, is in the report).
GROWTH_SCENARIOS = ("list_anon", "list_auth", "feed", "article", "tags")


def measure_growth(args: argparse.Namespace, binary: Path, by_name: dict) -> dict:
    """The read scenarios again on the large dataset, same server settings,
    against the small run's medians: p50 ratios, counters exact after."""
    large = seed.SIZES["large"]
    log(f"growth: fresh {args.db} database")
    database_url = fresh_database(args.db, "large")
    config = server_config(args, binary, database_url)
    config.log_path = WORK / f"server-{args.db}-growth.log"
    config.log_path.unlink(missing_ok=True)
    pw_hash, seed_s, rows = seed_fresh(args, config, large)
    data_dir = WORK / "data-large"
    seed.write_rotation_lists(data_dir, large, args.seed, JWT_SECRET, pw_hash)
    scenarios = [s for s in SCENARIOS if s.name in GROWTH_SCENARIOS and s.name in by_name]
    server = Server(config)
    server.start()
    results = []
    try:
        smoke_test(server, scenarios, data_dir)
        for sc in scenarios:
            log(f"growth: {sc.name}")
            runs = [measure(server, sc, args.duration, args.warmup if i == 0 else 0,
                            args.connections, args.threads, data_dir, seed.PASSWORD)
                    for i in range(args.repeat)]
            res = median_by(runs, lambda r: r.load.rps)
            small = by_name[sc.name]["load"]
            ratio = res.load.p50_ms / small["p50_ms"] if small["p50_ms"] else None
            results.append({
                "name": sc.name, "rps": res.load.rps, "p50_ms": res.load.p50_ms,
                "p99_ms": res.load.p99_ms, "non_2xx": res.load.non_2xx,
                "socket_errors": res.load.socket_errors, "runs_rps": [r.load.rps for r in runs],
                "small_rps": small["rps"], "small_p50_ms": small["p50_ms"],
                "p50_ratio": round(ratio, 3) if ratio else None,
                "peak_rss_mib": max(r.peak_rss_mib for r in runs)})
            log(f"  p50 {res.load.p50_ms:.2f} ms against {small['p50_ms']:.2f} ms "
                f"({ratio or 0:.2f}x), {res.load.rps:,.0f} req/s")
    finally:
        exit_code = server.stop()
    mismatches = seed.counter_mismatches(args.db, database_url)
    return {"rows": rows, "seed_seconds": round(seed_s, 1), "results": results,
            "exit_code": exit_code, "log_problems": log_problems(config.log_path) or "none",
            "counters_after": "yes" if not any(mismatches.values()) else f"NO: {mismatches}"}


def smoke_test(server: Server, scenarios: list[Scenario], data_dir: Path) -> None:
    """One short wrk run per scenario: fail early when a request is rejected."""
    for sc in scenarios:
        r = run_wrk(server.base_url, sc, 1, 2, 1, data_dir, seed.PASSWORD)
        if not server.alive():
            raise RuntimeError(f"server exited with code {server.exit_code()} during the "
                               f"smoke test of {sc.name}; see {server.config.log_path}")
        if r.non_2xx or r.socket_errors or r.requests == 0:
            raise RuntimeError(f"smoke test of {sc.name}: {r}")


def log_problems(path: Path) -> list[str]:
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    bad = [l for l in lines if re.search(r"\b(WARN|ERROR)\b|panicked", l)]
    return bad[:20] + ([f"... {len(bad) - 20} more"] if len(bad) > 20 else [])


def git_commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                         capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "migrations", "Cargo.toml"],
                           cwd=REPO, capture_output=True, text=True).stdout.strip()
    return out.stdout.strip() + ("+dirty" if dirty else "")


def main() -> int:
    args = parse_args()
    started = datetime.now(timezone.utc)
    # Read now: the source may change while the run goes on.
    commit = git_commit()
    steal = tools.StealMeter()
    WORK.mkdir(exist_ok=True)
    data_dir = WORK / "data"
    scenarios = [s for s in SCENARIOS if not args.only or s.name in args.only.split(",")]
    size = seed.SIZES[args.size]

    versions = [tools.ensure_wrk(), tools.ensure_pgbench(PGBENCH)]
    if not args.no_open_loop:
        versions.append(tools.ensure_oha())
    log("tools: " + "; ".join(versions))
    binary = REPO / "target" / "release" / "conduit"
    if not args.no_build:
        binary = tools.build_server(REPO)

    log(f"fresh {args.db} database")
    database_url = fresh_database(args.db, args.size)
    config = server_config(args, binary, database_url)
    config.log_path.unlink(missing_ok=True)
    pw_hash, seed_s, rows = seed_fresh(args, config, size)
    lists = seed.write_rotation_lists(data_dir, size, args.seed, JWT_SECRET, pw_hash)

    server = Server(config)
    server.start()
    log(f"server pid {server.pid} on {server.base_url}")
    results: list[dict] = []
    ceilings: dict = {}
    open_loop: list[dict] = []
    login_flood: dict | None = None
    c10k: dict | None = None
    soak: dict | None = None
    hwm_before_c10k: float | None = None
    notes: list[str] = []
    vacuums = autovacuum_off(args.db, database_url)
    if vacuums:
        log("autovacuum is off on this server: VACUUM ANALYZE after each writing scenario")
    try:
        smoke_test(server, scenarios, data_dir)
        for sc in scenarios:
            log(f"scenario {sc.name} ({args.duration:g}s)")
            runs = []
            for i in range(args.repeat):
                runs.append(measure(server, sc, args.duration, args.warmup if i == 0 else 0,
                                    args.connections, args.threads, data_dir, seed.PASSWORD))
                if not runs[-1].server_alive:
                    break
            res = median_by(runs, lambda r: r.load.rps) if runs[-1].server_alive else runs[-1]
            if sc.name in WRITES:
                settle(args.db, database_url, vacuums)
            results.append(dict(asdict(res), ceiling=sc.ceiling,
                                runs_rps=[r.load.rps for r in runs],
                                peak_rss_mib=max(r.peak_rss_mib for r in runs),
                                hwm_mib=max(r.hwm_mib for r in runs)))
            log(f"  {res.load.rps:,.0f} req/s p99 {res.load.p99_ms:.2f} ms "
                f"non-2xx {res.load.non_2xx} errors {res.load.socket_errors} "
                f"SQL/req {res.sql_per_request} rss {res.peak_rss_mib} MiB stolen {res.steal}")
            if not res.server_alive:
                notes.append(f"server exited with code {server.exit_code()} during {sc.name}; "
                             "later scenarios, ceilings and open-loop runs skipped")
                log(notes[-1])
                break
        by_name = {r["name"]: r for r in results}
        if "health_live" in by_name:
            ceilings["framework_rps"] = by_name["health_live"]["load"]["rps"]
        if not server.alive():
            raise ServerDied
        if args.db == "postgres":
            ceilings["db"] = {}
            wanted = {s.ceiling[3:] for s in scenarios if s.ceiling.startswith("db:")}
            # As many clients as the server has connections: more only adds
            # contention inside PostgreSQL (measured: 64 clients do ~10-30 %
            # fewer transactions than 8 on this kind of machine).
            clients = args.pool_size or 4 * (os.cpu_count() or 2)
            # The create's batched statement at the mean batch the server ran.
            batch = (by_name.get("create", {}).get("per_batch") or {}).get("article_create")
            batch = max(1, round(batch)) if batch else None
            for name, script in db_ceiling_scripts(WORK, size.users, batch).items():
                if name not in wanted and not (name == "create_single" and "create" in wanted):
                    continue
                # One batch at a time, as the server runs them.
                n_clients = 1 if name == "create" else clients
                log(f"database ceiling: pgbench, {name} SQL, {n_clients} clients")
                tries = [run_pgbench(database_url, script, n_clients, 1 if n_clients == 1
                                     else args.threads, args.duration)
                         for _ in range(args.repeat)]
                d = median_by(tries, lambda t: t["tps"])
                d = dict(d, clients=n_clients, runs_tps=[t["tps"] for t in tries])
                if name == "create":
                    # Articles per second: each transaction creates `batch`.
                    d = dict(d, statements_tps=d["tps"], tps=d["tps"] * batch, batch=batch,
                             runs_tps=[t * batch for t in d["runs_tps"]])
                ceilings["db"][name] = d
                if name.startswith("create"):
                    settle(args.db, database_url, vacuums)
        log("hashing ceiling: argon2-cffi")
        ceilings["hashing"] = hash_ceiling()
        if "login" in by_name:
            login = next(s for s in scenarios if s.name == "login")
            l1 = run_wrk(server.base_url, login, 5, 1, 1, data_dir, seed.PASSWORD)
            ceilings["login_c1"] = asdict(l1)
        if not args.no_open_loop:
            for sc in scenarios:
                if sc.open_loop and sc.name in by_name:
                    rate = by_name[sc.name]["load"]["rps"] / 2
                    log(f"open loop {sc.name} at {rate:,.0f} req/s")
                    row = open_loop_median(server.base_url, sc, rate, args, data_dir,
                                           lists["tokens"][0])
                    # The framework at the same rate right after: what the
                    # machine, the load generator and actix-web give a request
                    # that does nothing, the floor of this row's p99.
                    floor = open_loop_median(server.base_url, FRAMEWORK, rate, args,
                                             data_dir, lists["tokens"][0])
                    open_loop.append(dict(row, name=sc.name, framework=floor))
                    log(f"  p99 {row['p99_ms']:.2f} ms achieved {row['achieved_rps']:,.0f}; "
                        f"/health/live at the same rate p99 {floor['p99_ms']:.2f} ms")
        if not args.no_open_loop and "login" in by_name and FLOOD_READ in by_name:
            login_flood = measure_login_flood(server, scenarios, by_name, args, data_dir,
                                              lists["tokens"][0])
        if not args.no_c10k and "tags" in by_name:
            hwm_before_c10k = server.memory_kib().get("VmHWM", 0) / 1024
            log(f"{C10K:,} connections: tags")
            c10k = measure_c10k(server, scenarios, by_name, args, data_dir)
            log(f"  {c10k['load']['rps']:,.0f} req/s ({c10k['ratio_to_64']}x of 64 connections), "
                f"errors {c10k['load']['non_2xx'] + c10k['load']['socket_errors']}, "
                f"peak RSS {c10k['peak_rss_mib']} MiB")
        if args.soak > 0 and "mix" in by_name:
            log(f"soak: mix at {SOAK_SHARE:.0%} of its peak for {args.soak:g} s")
            soak = measure_soak(server, scenarios, by_name, args, data_dir)
            log(f"  {soak['load']['rps']:,.0f} req/s, errors "
                f"{soak['load']['non_2xx'] + soak['load']['socket_errors']}, RSS "
                f"{soak['rss_first_minute_mib']} -> {soak['rss_last_minute_mib']} MiB")
    except ServerDied:
        pass
    finally:
        vmhwm = server.memory_kib().get("VmHWM", 0) / 1024 if server.alive() else 0.0
        exit_code = server.stop()
    vmhwm = max([vmhwm] + [r["hwm_mib"] for r in results])
    counters_after = seed.counter_mismatches(args.db, database_url)
    consistent = "yes" if not any(counters_after.values()) else f"NO: {counters_after}"
    growth = None
    if args.growth and exit_code == 0:
        growth = measure_growth(args, binary, {r["name"]: r for r in results})

    run = {
        "db": args.db, "size": args.size, "seed": args.seed,
        "variant": "nocache" if args.no_response_cache else "",
        "partial": bool(args.only),
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python3 bench/run.py " + shlex.join(sys.argv[1:]),
        "machine": dict(tools.machine_info(), steal_over_run=steal.share()),
        "duration_s": args.duration, "warmup_s": args.warmup, "repeat": args.repeat,
        "connections": args.connections, "threads": args.threads,
        "rows": rows, "seed_seconds": round(seed_s, 1),
        "server": {"binary": "target/release/conduit", "commit": commit,
                   "pool_max_size": args.pool_size or "default (4 x cores)", "workers": os.cpu_count(),
                   "env": config.extra_env,
                   "vmhwm_mib": round(vmhwm, 1), "exit_code": exit_code,
                   "vmhwm_before_c10k_mib": round(hwm_before_c10k, 1) if hwm_before_c10k else None,
                   "log_problems": log_problems(config.log_path) or "none"},
        "results": results, "ceilings": ceilings, "open_loop": open_loop,
        "login_flood": login_flood, "c10k": c10k, "soak": soak, "growth": growth,
        "counters_after": consistent, "notes": notes,
        "vacuum_after_writes": vacuums,
    }
    for path in report.write(run, RESULTS):
        log(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
