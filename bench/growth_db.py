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
from conduit_bench.scenarios import FEED_SQL, run_pgbench  # noqa: E402

WORK = BENCH / "work" / "growth_db"
WORK.mkdir(parents=True, exist_ok=True)
base = ("SELECT a.id, a.slug, a.title, a.description, a.author_id, a.favorites_count, a.created_at, a.updated_at, a.tag_list, u.id, u.username, u.bio, u.image, "
        "EXISTS (SELECT 1 FROM favorites fa WHERE fa.user_id = {v} AND fa.article_id = a.id), "
        "EXISTS (SELECT 1 FROM follows fo WHERE fo.follower_id = {v} AND fo.followee_id = a.author_id), "
        "(SELECT CAST(COALESCE(SUM(c.value), 0) AS BIGINT) FROM counters c WHERE c.name LIKE 'articles/%') "
        "FROM articles a JOIN users u ON u.id = a.author_id ORDER BY a.created_at DESC, a.id DESC LIMIT 20 OFFSET 0;\n")

binary = BENCH.parent / "target" / "release" / "conduit"
urls = {}
for size in ("small", "large"):
    args = argparse.Namespace(db="postgres", size=size, port=18080, pool_size=None,
                              no_response_cache=True, seed=42)
    url = seed.recreate_postgres(f"conduit_diag_{size}")
    config = run.server_config(args, binary, url)
    pw, s, rows = run.seed_fresh(args, config, seed.SIZES[size])
    seed.psql(url, "-c", "VACUUM ANALYZE")
    seed.psql(url, "-c", "CHECKPOINT")
    print(size, "seeded", round(s, 1), rows, flush=True)
    urls[size] = url

results = {}
for rep in range(3):
    for name in ("list_anon", "list_auth", "feed"):
        for size, url in urls.items():
            users = seed.SIZES[size].users
            script = WORK / f"{name}-{size}.sql"
            if name == "feed":
                script.write_text(FEED_SQL.format(users=users))
            elif name == "list_auth":
                script.write_text(f"\\set u random(1, {users})\n" + base.format(v=":u"))
            else:
                script.write_text(base.format(v="0"))
            r = run_pgbench(url, script, 8, 2, 15)
            results.setdefault((name, size), []).append(r)
            print(rep, name, size, r, flush=True)

for (name, size), rs in results.items():
    tps = [r["tps"] for r in rs]
    lat = [r["latency_avg_ms"] for r in rs]
    print(f"{name:10s} {size:6s} median tps {statistics.median(tps):,.0f} runs {tps} median avg latency {statistics.median(lat)} ms")

feed_one = ("EXPLAIN (ANALYZE, BUFFERS) " + FEED_SQL.split("\n")[3]
            .replace(":u", "42").replace(":l", "20").replace(":o", "0"))
auth_one = "EXPLAIN (ANALYZE, BUFFERS) " + base.format(v="42")
for size, url in urls.items():
    for label, sql in (("feed", feed_one), ("list_auth", auth_one)):
        for attempt in (1, 2):
            out = seed.psql(url, "-c", "SET max_parallel_workers_per_gather = 0", "-c", sql)
            print(f"--- {label} {size} attempt {attempt}\n{out}", flush=True)
