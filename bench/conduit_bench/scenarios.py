"""The scenarios and the load generators that run them (wrk, oha, pgbench)."""

from __future__ import annotations

import json
import math
import os
import re
import resource
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass, asdict
from pathlib import Path

from .server import STATEMENTS_METRIC, RssSampler, Server
from .tools import StealMeter

BATCH_METRIC = "conduit_db_batch_size"

LUA_SCRIPT = Path(__file__).resolve().parent.parent / "lua" / "conduit.lua"
PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    path: str                 # URL path wrk starts from (the Lua builder may override it)
    lua: str = "plain"        # BENCH_SCENARIO: which builder in lua/conduit.lua
    target_rps: float | None = None
    open_loop: bool = False   # also measured open-loop at half its peak
    ceiling: str = "framework"  # which ceiling the ratio is taken against


# Targets (caches off): the larger of 2x the Axum + SQLx and 20x the Node.js
# Express + Knex figure of the reference run (2-core machine, framework
# ceiling 92,000 req/s): list 2 x 572 / 2 x 598, feed 2 x 1,857, article
# 20 x 589, tags 20 x 1,010, profile 2 x 6,396, create 2 x 3,118, mix 20 x 69.
SCENARIOS: list[Scenario] = [
    Scenario("health_live", "GET /health/live (no DB): framework ceiling", "/health/live",
             ceiling="self"),
    Scenario("list_anon", "GET /api/articles?limit=20, anonymous", "/api/articles?limit=20",
             target_rps=1144, open_loop=True, ceiling="db:list"),
    Scenario("list_auth", "GET /api/articles?limit=20, signed in (rotating tokens)",
             "/api/articles?limit=20", "list_auth", 1196, True, "db:list"),
    Scenario("feed", "GET /api/articles/feed?limit=20 (rotating tokens)",
             "/api/articles/feed?limit=20", "feed", 3714, True, "db:feed"),
    Scenario("article", "GET /api/articles/{slug}, anonymous (rotating slugs)",
             "/api/articles/seeded-article-1", "article", 11780, True),
    Scenario("tags", "GET /api/tags", "/api/tags", target_rps=20200, open_loop=True,
             ceiling="db:tags"),
    Scenario("profile", "GET /api/profiles/{username}, signed in (rotating)",
             "/api/profiles/user1", "profile", 12792, True),
    Scenario("login", "POST /api/users/login (rotating users; argon2id)",
             "/api/users/login", "login", ceiling="hashing"),
    Scenario("create", "POST /api/articles, signed in, unique titles, 2 tags",
             "/api/articles", "create", 6236, ceiling="db:create"),
    Scenario("mix", "80% list/feed/article, 15% favorite/unfavorite, 5% create; signed in",
             "/api/articles?limit=20", "mix", 1380),
]

# Read scenarios whose open-loop run needs per-request rotation use a URL file.
OPEN_LOOP_ROTATION = {"article": "slugs", "profile": "usernames"}


@dataclass
class LoadResult:
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float | None
    max_ms: float
    non_2xx: int
    socket_errors: int
    # wrk's socket errors by kind (connect, read, write, timeout), when any.
    socket_error_kinds: dict[str, int] | None = None
    # CPU seconds (user + system) the load generator itself used.
    client_cpu_s: float | None = None


@dataclass
class ScenarioResult:
    name: str
    description: str
    load: LoadResult
    target_rps: float | None
    peak_rss_mib: float
    hwm_mib: float
    cpu_s_per_1k: float
    sql_per_request: float
    server_alive: bool
    warmup_non_2xx: int = 0
    # Requests per run of shared database work during the run, by kind
    # (`conduit_db_batch_size`: article_create, tags).
    per_batch: dict[str, float] | None = None
    # The share of CPU time stolen by the hypervisor during the measured run.
    steal: float | None = None
    # wrk's own CPU per 1,000 requests: on shared cores, what the load
    # generator takes from the server.
    client_cpu_s_per_1k: float | None = None
    # The resident set at the highest sample, split into anonymous memory
    # (the heap, stacks, argon2's buffers) and file pages (mapped code and
    # read-only data, shared with the page cache).
    peak_rss_anon_mib: float | None = None
    peak_rss_file_mib: float | None = None


# --- wrk -----------------------------------------------------------------------

def raise_fd_limit() -> None:
    """Lets a child open as many sockets as the hard limit allows (the
    10,000-connection scenario)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


SOCKET_ERROR_KINDS = ("connect", "read", "write", "timeout")


def run_wrk(base_url: str, scenario: Scenario, duration_s: float, connections: int,
            threads: int, data_dir: Path, password: str,
            delay_ms: float | None = None) -> LoadResult:
    env = dict(os.environ, BENCH_SCENARIO=scenario.lua, BENCH_DATA_DIR=str(data_dir),
               BENCH_PASSWORD=password)
    if delay_ms is not None:
        env["BENCH_DELAY_MS"] = f"{delay_ms:.3f}"
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s:g}s", "--timeout", "5s",
           "-s", str(LUA_SCRIPT), base_url + scenario.path]
    # Children's CPU, counted when they are reaped: wrk's own, as nothing
    # else the harness starts ends meanwhile (except in the login flood, whose
    # concurrent runs do not report it).
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True,
                         timeout=duration_s + 120, check=True, preexec_fn=raise_fd_limit)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    match = re.search(r"^BENCH_JSON (\{.*\})$", out.stdout, re.M)
    if not match:
        raise RuntimeError(f"no BENCH_JSON in wrk output:\n{out.stdout}\n{out.stderr}")
    raw = json.loads(match.group(1))
    duration = raw["duration_us"] / 1e6
    return LoadResult(
        requests=raw["requests"],
        duration_s=round(duration, 2),
        rps=round(raw["requests"] / duration, 1),
        p50_ms=raw["p50"] / 1000, p90_ms=raw["p90"] / 1000,
        p99_ms=raw["p99"] / 1000, p999_ms=raw["p999"] / 1000, max_ms=raw["max"] / 1000,
        non_2xx=raw["status"],
        socket_errors=sum(raw[k] for k in SOCKET_ERROR_KINDS),
        socket_error_kinds={k: raw[k] for k in SOCKET_ERROR_KINDS if raw[k]} or None,
        client_cpu_s=round(client_cpu, 3),
    )


def measure(server: Server, scenario: Scenario, duration_s: float, warmup_s: float,
            connections: int, threads: int, data_dir: Path, password: str) -> ScenarioResult:
    """Warm up, then one measured wrk run with CPU, RSS and SQL-statement deltas."""
    warmup_non_2xx = 0
    if warmup_s > 0:
        warm = run_wrk(server.base_url, scenario, warmup_s, connections, threads, data_dir,
                       password)
        warmup_non_2xx = warm.non_2xx + warm.socket_errors
    metrics0, cpu0 = server.metrics(), server.cpu_seconds()
    steal = StealMeter()
    with RssSampler(server) as rss:
        load = run_wrk(server.base_url, scenario, duration_s, connections, threads,
                       data_dir, password)
    stolen = steal.share()
    alive = server.alive()
    metrics1, cpu1 = (server.metrics(), server.cpu_seconds()) if alive else (metrics0, cpu0)

    def delta(name: str) -> float:
        return metrics1.get(name, 0.0) - metrics0.get(name, 0.0)

    per_batch = {}
    for key in metrics1:
        kind = re.fullmatch(rf'{BATCH_METRIC}_count\{{kind="(\w+)"\}}', key)
        if kind and delta(key) > 0:
            per_batch[kind.group(1)] = round(
                delta(f'{BATCH_METRIC}_sum{{kind="{kind.group(1)}"}}') / delta(key), 1)
    hwm = server.memory_kib().get("VmHWM", 0) if alive else 0
    n = max(load.requests, 1)
    return ScenarioResult(
        name=scenario.name, description=scenario.description, load=load,
        target_rps=scenario.target_rps,
        peak_rss_mib=round(rss.peak_kib / 1024, 1), hwm_mib=round(hwm / 1024, 1),
        cpu_s_per_1k=round((cpu1 - cpu0) / n * 1000, 3),
        # /metrics reads execute no SQL, so the delta is the scenario's alone.
        sql_per_request=round(delta(STATEMENTS_METRIC) / n, 2),
        server_alive=alive, warmup_non_2xx=warmup_non_2xx,
        per_batch=per_batch or None, steal=stolen,
        client_cpu_s_per_1k=(round(load.client_cpu_s / n * 1000, 3)
                             if load.client_cpu_s is not None else None),
        peak_rss_anon_mib=round(rss.peak_anon_kib / 1024, 1),
        peak_rss_file_mib=round(rss.peak_file_kib / 1024, 1),
    )


# --- oha (open loop) ---------------------------------------------------------------

def open_loop_command(base_url: str, scenario: Scenario, rate: float, duration_s: float,
                      connections: int, data_dir: Path, token: str) -> list[str]:
    # Without Accept-Encoding, like the closed-loop wrk run of the same
    # scenario: the same requests at half the rate, and oha spends no CPU
    # decompressing on the cores it shares with the server.
    cmd = ["oha", "--no-tui", "--output-format", "json", "-q", f"{rate:.0f}",
           "-z", f"{duration_s:g}s", "-c", str(connections), "--latency-correction",
           "--disable-compression"]
    if scenario.lua in ("list_auth", "feed", "profile"):
        cmd += ["-H", f"Authorization: Token {token}"]
    rotation = OPEN_LOOP_ROTATION.get(scenario.name)
    if rotation:
        prefix = {"slugs": "/api/articles/", "usernames": "/api/profiles/"}[rotation]
        names = (data_dir / f"{rotation}.txt").read_text().split()
        url_file = data_dir / f"urls-{scenario.name}.txt"
        url_file.write_text("".join(f"{base_url}{prefix}{n}\n" for n in names))
        cmd += ["--urls-from-file", str(url_file)]
    else:
        cmd.append(base_url + scenario.path)
    return cmd


# oha keeps every result (120 bytes each) in one Vec, which doubles as it
# fills; each doubling copies it (7.9 MB at 2^16 results, 63 MB at 2^19), and on
# cores it shares with the server that stalls the client for tens of
# milliseconds, which latency correction charges to every request scheduled
# meanwhile. Measured on a 2-vCPU host at 42,000 req/s: `/health/live` p99
# 14.05 ms in one 15 s run, its slow requests in bursts at 2^17, 2^18 and 2^19
# results, and 2.12 ms over the same 15 s as ten 1.5 s runs (`bench/README.md`).
# So a measurement is split into back-to-back oha runs of at most this many
# requests, whose latencies are pooled.
OHA_RUN_REQUESTS = 60_000


def open_loop_runs(rate: float, duration_s: float) -> int:
    """How many oha runs a measurement of `duration_s` at `rate` is split into."""
    return max(1, math.ceil(rate * duration_s / OHA_RUN_REQUESTS))


def percentile(sorted_values: list[float], p: float) -> float:
    """oha's percentile: the value at index floor(p / 100 x n) of the sorted samples."""
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def _oha_run(cmd: list[str], timeout_s: float) -> tuple[dict, list[tuple[float, int]]]:
    """One oha run: its JSON summary, and (latency s, status) of every
    response, which `--db-url` stores (latency-corrected, as in the summary)."""
    with tempfile.TemporaryDirectory(prefix="oha-") as tmp:
        db = Path(tmp) / "requests.sqlite"
        out = subprocess.run(cmd + ["--db-url", str(db)], capture_output=True, text=True,
                             timeout=timeout_s, check=True)
        summary = json.loads(out.stdout)
        if not db.exists():  # no response at all
            return summary, []
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT duration, status FROM oha").fetchall()
        return summary, rows


def run_open_loop(base_url: str, scenario: Scenario, rate: float, duration_s: float,
                  connections: int, data_dir: Path, token: str,
                  warmup_s: float = 0) -> dict[str, float | int]:
    """`duration_s` at a fixed rate, after a discarded warm-up at the same rate
    (as the closed-loop runs have), so the figures describe the steady state;
    measured as `open_loop_runs` back-to-back oha runs (OHA_RUN_REQUESTS)."""
    if warmup_s > 0:
        subprocess.run(open_loop_command(base_url, scenario, rate, warmup_s, connections,
                                         data_dir, token),
                       capture_output=True, timeout=warmup_s + 60, check=True)
    runs = open_loop_runs(rate, duration_s)
    run_s = duration_s / runs
    cmd = open_loop_command(base_url, scenario, rate, run_s, connections, data_dir, token)
    latencies: list[float] = []
    non_2xx = 0
    error_kinds: dict[str, int] = {}
    answered_s = 0.0  # sum over runs of requests/s x seconds
    seconds = 0.0
    steal = StealMeter()
    for _ in range(runs):
        data, rows = _oha_run(cmd, run_s + 60)
        summary = data["summary"]
        answered_s += (summary["requestsPerSec"] or 0.0) * summary["total"]
        seconds += summary["total"]
        latencies += [d for d, _ in rows]
        non_2xx += sum(1 for _, status in rows if not 200 <= status < 300)
        for kind, n in data.get("errorDistribution", {}).items():
            error_kinds[kind] = error_kinds.get(kind, 0) + n
    stolen = steal.share()
    latencies.sort()
    return {
        "rate": round(rate),
        "achieved_rps": round(answered_s / seconds if seconds else 0.0, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 3),
        "p99_ms": round(percentile(latencies, 99) * 1000, 3),
        "p999_ms": round(percentile(latencies, 99.9) * 1000, 3),
        "max_ms": round((latencies[-1] if latencies else 0.0) * 1000, 3),
        "responses": len(latencies),
        "oha_runs": runs,
        "oha_run_s": round(run_s, 3),
        "non_2xx": non_2xx,
        "errors": sum(error_kinds.values()),  # includes requests still in flight at a deadline
        "error_kinds": error_kinds,
        "steal": stolen,
    }


# --- ceilings ---------------------------------------------------------------------

def list_sql_script(path: Path) -> Path:
    """pgbench script: the one statement an anonymous list request runs on
    PostgreSQL, `ListPagePg::<20>::SQL` (list_page_pg!) of src/db/dialect.rs (the page joined to
    authors, tag names on the article row, the viewer's flags for viewer 0,
    and the site's total from its counter shards as a column)."""
    path.write_text("""\
SELECT a.id, a.slug, a.title, a.description, a.author_id, a.favorites_count, a.created_at, a.updated_at, a.tag_list, u.id, u.username, u.bio, u.image, EXISTS (SELECT 1 FROM favorites fa WHERE fa.user_id = 0 AND fa.article_id = a.id), EXISTS (SELECT 1 FROM follows fo WHERE fo.follower_id = 0 AND fo.followee_id = a.author_id), (SELECT CAST(COALESCE(SUM(c.value), 0) AS BIGINT) FROM counters c WHERE c.name LIKE 'articles/%') FROM articles a JOIN users u ON u.id = a.author_id ORDER BY a.created_at DESC, a.id DESC LIMIT 20 OFFSET 0;
""")
    return path


# The server's feed statement: feed_page_pg!("20") of src/db/dialect.rs (the
# depth of a first page of 20 written in, the page's limit and offset bound,
# as the server sends them), which also carries the feed's total (the
# followed authors' counters), so a page with rows is one statement.
FEED_SQL = """\
\\set u random(1, {users})
\\set l 20
\\set o 0
WITH followed AS MATERIALIZED (SELECT u.id, u.username, u.bio, u.image, u.articles_authored FROM follows f JOIN users u ON u.id = f.followee_id WHERE f.follower_id = :u) SELECT a.id, a.slug, a.title, a.description, a.author_id, a.favorites_count, a.created_at, a.updated_at, a.tag_list, page.author_id, page.username, page.bio, page.image, EXISTS (SELECT 1 FROM favorites fa WHERE fa.user_id = :u AND fa.article_id = a.id), true, (SELECT CAST(COALESCE(SUM(fo.articles_authored), 0) AS BIGINT) FROM followed fo) FROM (SELECT newest.id, newest.created_at, fo.id AS author_id, fo.username, fo.bio, fo.image FROM followed fo CROSS JOIN LATERAL (SELECT a.id, a.created_at FROM articles a WHERE a.author_id = fo.id ORDER BY a.created_at DESC, a.id DESC LIMIT 20) newest ORDER BY newest.created_at DESC, newest.id DESC LIMIT :l OFFSET :o) page JOIN articles a ON a.id = page.id ORDER BY page.created_at DESC, page.id DESC;
"""

TAGS_SQL = """\
SELECT t.name, CAST(SUM(c.articles_count) AS BIGINT) FROM tags t JOIN tag_counts c ON c.tag_id = t.id GROUP BY t.id, t.name HAVING SUM(c.articles_count) > 0;
"""

# The server's two create statements (the tag lookup, then CREATE_ARTICLE_PG
# of src/db/dialect.rs), autocommitted as the server runs them, with a ~2 KB
# body and two existing tags.
CREATE_SQL = """\
\\set u random(1, {users})
\\set r random(1, 2000000000)
\\set s random(0, 15)
SELECT id FROM tags WHERE name IN ('benchmark', 'load') ORDER BY id;
WITH article AS (INSERT INTO articles (slug, title, description, body, author_id, created_at, updated_at, tag_list) VALUES ('pgbench-' || :r, 'pgbench ' || :r, 'd', repeat('body text ', 200), :u, now()::timestamp, now()::timestamp, '["benchmark","load"]') ON CONFLICT (slug) DO NOTHING RETURNING id), author AS (UPDATE users SET articles_authored = articles_authored + 1 WHERE id = :u AND EXISTS (SELECT 1 FROM article) RETURNING username, bio, image), links AS (INSERT INTO article_tags (article_id, tag_id) SELECT article.id, t.id FROM article, (SELECT id FROM tags WHERE name IN ('benchmark', 'load')) AS t), tag_totals AS (INSERT INTO tag_counts (tag_id, shard, articles_count) SELECT t.id, :s, 1 FROM article, (SELECT id FROM tags WHERE name IN ('benchmark', 'load')) AS t ORDER BY t.id ON CONFLICT (tag_id, shard) DO UPDATE SET articles_count = tag_counts.articles_count + 1 RETURNING tag_id), site_total AS (INSERT INTO counters (name, value) SELECT 'articles/' || :s, 1 FROM article WHERE (SELECT count(*) FROM tag_totals) >= 0 ON CONFLICT (name) DO UPDATE SET value = counters.value + 1) SELECT article.id, author.username, author.bio, author.image FROM article, author;
"""


def create_batch_sql(batch: int, users: int) -> str:
    """pgbench script: what the server sends for `batch` article creates that
    queued together (`repo::create_batch`): the tags' ids, then
    CREATE_ARTICLES_PG of src/db/dialect.rs with its arrays written out,
    random authors and unique slugs, the same ~2 KB body and two tags."""
    sets = ["\\set r random(1, 2000000000)", "\\set s random(0, 15)"]
    sets += [f"\\set u{i} random(1, {users})" for i in range(batch)]
    def array(items: list[str], cast: str) -> str:
        return f"ARRAY[{', '.join(items)}]::{cast}[]"
    n = range(batch)
    slugs = array([f"'pgbench-' || :r || '-{i}'" for i in n], "text")
    titles = array([f"'pgbench ' || :r || ' {i}'" for i in n], "text")
    descriptions = array(["'d'"] * batch, "text")
    bodies = array(["repeat('body text ', 200)"] * batch, "text")
    authors = array([f":u{i}" for i in n], "bigint")
    tag_lists = array(["'[\"benchmark\",\"load\"]'"] * batch, "text")
    tag_rows = array([str(i + 1) for i in n for _ in range(2)], "bigint")
    tag_ids = array([":t1", ":t2"] * batch, "bigint")
    lock = f"(SELECT array_agg(DISTINCT a ORDER BY a) FROM unnest({authors}) AS a)"
    statement = server_sql("CREATE_ARTICLES_PG")
    for number, value in (("12", lock), ("11", "'articles/' || :s"), ("10", ":s"),
                          ("9", tag_ids), ("8", tag_rows), ("7", tag_lists),
                          ("6", "now()::timestamp"), ("5", authors), ("4", bodies),
                          ("3", descriptions), ("2", titles), ("1", slugs)):
        statement = statement.replace(f"${number}", value)
    return "\n".join(sets + [
        "SELECT min(id) AS t1, max(id) AS t2 FROM tags WHERE name IN ('benchmark', 'load') \\gset",
        " ".join(statement.split()) + ";", ""])


def server_sql(name: str) -> str:
    """The SQL of the string constant `name` in src/db/dialect.rs: the
    statement the server prepares, read from its source."""
    source = (Path(__file__).resolve().parents[2] / "src" / "db" / "dialect.rs").read_text()
    match = re.search(rf'const {name}: &str = "\\\n(.*?)";', source, re.S)
    if not match:
        raise RuntimeError(f"no {name} in src/db/dialect.rs")
    return match.group(1)


def db_ceiling_scripts(work: Path, users: int, create_batch: int | None) -> dict[str, Path]:
    """pgbench scripts for each `db:` ceiling: the SQL one request of that
    scenario sends (create last: it adds articles). The create's is the
    batched statement for the server's mean batch in the create scenario
    (`create_batch`), and `create_single` the one-article statement a lone
    create (or a batch's fallback) uses."""
    scripts = {"list": list_sql_script(work / "list.sql")}
    sql = [("feed", FEED_SQL), ("tags", TAGS_SQL), ("create_single", CREATE_SQL)]
    if create_batch:
        sql.append(("create", create_batch_sql(create_batch, users)))
    for name, text in sql:
        path = work / f"{name}.sql"
        path.write_text(text.format(users=users) if "{users}" in text else text)
        scripts[name] = path
    return scripts


# The planner setting each of the server's PostgreSQL sessions starts with
# (`dialect::prepare_session` in src/db/dialect.rs), so that pgbench plans the
# server's statements as the server's connections do.
SERVER_SESSION = "-c enable_memoize=off"


def run_pgbench(database_url: str, script: Path, clients: int, threads: int,
                duration_s: float) -> dict[str, float]:
    cmd = [PGBENCH, "-n", "-M", "prepared", "-c", str(clients), "-j", str(threads),
           "-T", f"{duration_s:.0f}", "-f", str(script), database_url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 120,
                         check=True, env={**os.environ, "PGOPTIONS": SERVER_SESSION}).stdout
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    return {"tps": round(tps, 1), "latency_avg_ms": float(lat.group(1)) if lat else 0.0,
            "failed": int(failed.group(1)) if failed else 0}


def _hash_n(n: int) -> float:
    """Milliseconds per argon2id hash (m=7168 KiB, t=5, p=1) over n hashes."""
    from argon2.low_level import Type, hash_secret_raw

    start = time.perf_counter()
    for _ in range(n):
        hash_secret_raw(b"bench-password-123", os.urandom(16), time_cost=5,
                        memory_cost=7168, parallelism=1, hash_len=32, type=Type.ID)
    return (time.perf_counter() - start) * 1000 / n


def hash_ceiling(n: int = 20) -> dict[str, float]:
    """The issue's hashing ceiling: cores x 1000 / ms per hash, timed with
    argon2-cffi in one thread. Also measured with one process per core
    hashing at once, which on shared or memory-bound cores is slower per hash
    than the single-thread figure assumes (reported beside it, not used for
    the ratio)."""
    import multiprocessing

    ms = _hash_n(n)
    cores = os.cpu_count() or 1
    with multiprocessing.get_context("spawn").Pool(cores) as pool:
        per_process = pool.map(_hash_n, [n] * cores)
    parallel = sum(1000 / m for m in per_process)
    return {"hashes": n, "ms_per_hash": round(ms, 2), "cores": cores,
            "logins_per_s": round(cores * 1000 / ms, 1),
            "parallel_ms_per_hash": [round(m, 2) for m in per_process],
            "parallel_logins_per_s": round(parallel, 1)}


def as_dict(obj: object) -> dict:
    return asdict(obj)  # type: ignore[arg-type]
