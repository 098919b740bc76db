#!/usr/bin/env python3
"""The growth phase's database side: the statements of the anonymous list, the
signed-in list and the feed through pgbench on the small and the large dataset
(3 alternating 15 s runs each, 8 clients, medians), then EXPLAIN (ANALYZE,
BUFFERS) of one signed-in list page and one feed page on each, twice (cold,
then warm). Seeds conduit_diag_small and conduit_diag_large with the harness's
seeder (~5 min) and needs the release binary to run the migrations.

    python3 bench/growth_db.py > bench/work/growth_db.log
"""
import argparse
import statistics
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.argv = [str(Path(__file__).resolve())]
import run  # noqa: E402  (re-executes this script inside bench/.venv)
from conduit_bench import seed  # noqa: E402
from conduit_bench.scenarios import FEED_SQL, list_sql_script, run_pgbench  # noqa: E402

WORK = BENCH / "work" / "growth_db"
BINARY = BENCH.parent / "target" / "release" / "conduit"
VIEWER = 42  # the one viewer of the EXPLAINs; it exists in both datasets


def list_sql(viewer: str) -> str:
    """The anonymous list's statement as the harness's list ceiling runs it
    (viewer 0), with its two viewer predicates bound to `viewer` instead."""
    sql = list_sql_script(WORK / "list_anon.sql").read_text()
    for column in ("fa.user_id", "fo.follower_id"):
        if f"{column} = 0 " not in sql:
            raise RuntimeError(f"the list statement no longer filters on {column} = 0")
        sql = sql.replace(f"{column} = 0 ", f"{column} = {viewer} ")
    return sql


def seed_both() -> dict[str, str]:
    urls = {}
    for size in ("small", "large"):
        args = argparse.Namespace(db="postgres", size=size, port=18080, pool_size=None,
                                  no_response_cache=True, seed=42)
        url = seed.recreate_postgres(f"conduit_diag_{size}")
        _, seconds, rows = run.seed_fresh(args, run.server_config(args, BINARY, url),
                                          seed.SIZES[size])
        seed.psql(url, "-c", "VACUUM ANALYZE")
        seed.psql(url, "-c", "CHECKPOINT")
        print(size, "seeded", round(seconds, 1), rows, flush=True)
        urls[size] = url
    return urls


def script_for(name: str, size: str) -> Path:
    users = seed.SIZES[size].users
    script = WORK / f"{name}-{size}.sql"
    if name == "feed":
        script.write_text(FEED_SQL.format(users=users))
    elif name == "list_auth":
        script.write_text(f"\\set u random(1, {users})\n" + list_sql(":u"))
    else:
        script.write_text(list_sql("0"))
    return script


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    urls = seed_both()
    results: dict[tuple[str, str], list[dict]] = {}
    for round_no in range(3):
        for name in ("list_anon", "list_auth", "feed"):
            for size, url in urls.items():
                r = run_pgbench(url, script_for(name, size), 8, 2, 15)
                results.setdefault((name, size), []).append(r)
                print(round_no, name, size, r, flush=True)

    for (name, size), rs in results.items():
        tps = [r["tps"] for r in rs]
        lat = [r["latency_avg_ms"] for r in rs]
        print(f"{name:10s} {size:6s} median tps {statistics.median(tps):,.0f} runs {tps} "
              f"median avg latency {statistics.median(lat)} ms")

    feed_page = next(line for line in FEED_SQL.splitlines() if line.startswith("WITH"))
    feed_one = "EXPLAIN (ANALYZE, BUFFERS) " + (
        feed_page.replace(":u", str(VIEWER)).replace(":l", "20").replace(":o", "0"))
    auth_one = "EXPLAIN (ANALYZE, BUFFERS) " + list_sql(str(VIEWER))
    for size, url in urls.items():
        for label, sql in (("feed", feed_one), ("list_auth", auth_one)):
            for attempt in (1, 2):
                out = seed.psql(url, "-c", "SET max_parallel_workers_per_gather = 0",
                                "-c", "SET enable_memoize = off", "-c", sql)
                print(f"--- {label} {size} attempt {attempt}\n{out}", flush=True)


if __name__ == "__main__":
    main()
