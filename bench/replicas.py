#!/usr/bin/env python3
"""What coherence costs: the read scenarios of bench/run.py, in one run, on
one seeded PostgreSQL database, under these deployments:

    single          1 instance, no Redis (in-process generations), caches on
    single+redis    1 instance with REDIS_URL (every cache hit checks Redis)
    single-nocache  1 instance, caches off (the database path)
    single+haproxy  1 instance, no Redis, behind HAProxy (the balancer's own cost)
    pair            2 instances, no Redis (caches NOT coherent: the cost baseline)
    pair+redis      2 instances sharing Redis, behind HAProxy (round robin)
    pair-nocache    2 instances, caches off, behind HAProxy

    python3 bench/replicas.py [--duration 10] [--no-build]

Writes bench/results/replicas-postgres-small.{md,json}. Headline: cached
read throughput with coherence on (single+redis, and pair+redis) as a ratio
of the same reads on single (goal >= 0.75), beside the uncached figures.
Everything shares the machine's cores: wrk, HAProxy, the instances,
PostgreSQL and Redis."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as harness  # noqa: E402  (re-executes inside bench/.venv)
from conduit_bench import seed, tools  # noqa: E402
from conduit_bench.scenarios import SCENARIOS, run_wrk  # noqa: E402
from conduit_bench.server import Server, ServerConfig  # noqa: E402

READS = ["list_anon", "list_auth", "feed", "article", "tags", "profile"]
REDIS_PORT = 18379
HAPROXY_PORT = 18090
PORTS = [18081, 18082]
NO_CACHE = {"CACHE_MAX_AGE_SECONDS": "0", "CACHE_SIGNED_IN_MS": "0"}

DEPLOYMENTS = [
    # name, instances, extra env, behind HAProxy
    ("single", 1, {}, False),
    ("single+redis", 1, {"REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}"}, False),
    ("single-nocache", 1, NO_CACHE, False),
    ("single+haproxy", 1, {}, True),
    ("pair", 2, {}, True),
    ("pair+redis", 2, {"REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}"}, True),
    ("pair-nocache", 2, NO_CACHE, True),
]

HAPROXY_CFG = """global
    maxconn 4096
    nbthread 1
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    http-reuse always
frontend api
    bind 127.0.0.1:{port}
    default_backend conduit
backend conduit
    balance roundrobin
{servers}
"""


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", flush=True)


def ensure_haproxy() -> str:
    if subprocess.run(["which", "haproxy"], capture_output=True).returncode != 0:
        tools.apt_install("haproxy")
    out = subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else "haproxy"


def start_redis(work: Path) -> subprocess.Popen:
    proc = subprocess.Popen(["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(work)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "ping"],
                          capture_output=True, text=True).stdout.strip() == "PONG":
            return proc
        time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def start_haproxy(work: Path, ports: list[int]) -> subprocess.Popen:
    servers = "\n".join(f"    server s{i} 127.0.0.1:{p} check inter 2s" for i, p in enumerate(ports))
    cfg = work / "haproxy.cfg"
    cfg.write_text(HAPROXY_CFG.format(port=HAPROXY_PORT, servers=servers))
    proc = subprocess.Popen(["haproxy", "-f", str(cfg), "-db"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return proc


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--warmup", type=float, default=2)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--only", default="", help="comma-separated deployments (default: all)")
    args = p.parse_args()
    started = datetime.now(timezone.utc)
    work = harness.WORK
    work.mkdir(exist_ok=True)
    data_dir = work / "data"
    versions = [tools.ensure_wrk(), ensure_haproxy(),
                subprocess.run(["redis-server", "--version"], capture_output=True,
                               text=True).stdout.split(" sha")[0]]
    log("tools: " + "; ".join(versions))
    binary = harness.REPO / "target" / "release" / "conduit"
    if not args.no_build:
        binary = tools.build_server(harness.REPO)

    size = seed.SIZES["small"]
    database_url = seed.recreate_postgres("conduit_bench")
    base = ServerConfig(binary=binary, database_url=database_url, port=PORTS[0],
                        jwt_secret=harness.JWT_SECRET, log_path=work / "replicas-server.log")
    base.log_path.unlink(missing_ok=True)

    class A:  # the subset of run.py's arguments shared_password_hash reads
        db = "postgres"
    pw_hash = harness.shared_password_hash(A, base)
    log("seeding small")
    seed.seed_postgres(database_url, size, args.seed, pw_hash)
    seed.write_rotation_lists(data_dir, size, args.seed, harness.JWT_SECRET, pw_hash)
    scenarios = [s for s in SCENARIOS if s.name in READS]

    redis = start_redis(work)
    rows: list[dict] = []
    try:
        chosen = [d for d in DEPLOYMENTS if not args.only or d[0] in args.only.split(",")]
        for name, instances, env, proxied in chosen:
            servers = []
            for i in range(instances):
                cfg = ServerConfig(binary=binary, database_url=database_url, port=PORTS[i],
                                   jwt_secret=harness.JWT_SECRET, log_path=base.log_path,
                                   extra_env=dict(env, RUN_MIGRATIONS="false"))
                s = Server(cfg)
                s.start()
                servers.append(s)
            haproxy = start_haproxy(work, PORTS[:instances]) if proxied else None
            url = f"http://127.0.0.1:{HAPROXY_PORT}" if proxied else servers[0].base_url
            subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "flushall"], capture_output=True)
            try:
                for sc in scenarios:
                    run_wrk(url, sc, args.warmup, args.connections, args.threads, data_dir,
                            seed.PASSWORD)
                    load = run_wrk(url, sc, args.duration, args.connections, args.threads,
                                   data_dir, seed.PASSWORD)
                    rss = [round(s.memory_kib().get("VmHWM", 0) / 1024, 1) for s in servers]
                    rows.append({"deployment": name, "scenario": sc.name, **asdict(load),
                                 "hwm_mib": rss})
                    log(f"{name:15} {sc.name:10} {load.rps:9,.0f} req/s  p99 {load.p99_ms:6.2f} ms"
                        f"  non-2xx {load.non_2xx} errors {load.socket_errors}")
            finally:
                if haproxy:
                    haproxy.terminate()
                    haproxy.wait()
                for s in servers:
                    s.stop()
    finally:
        redis.terminate()
        redis.wait()

    def rps(dep: str, sc: str) -> float:
        return next(r["rps"] for r in rows if r["deployment"] == dep and r["scenario"] == sc)

    ran = {r["deployment"] for r in rows}
    pairs = [("single+redis", "single"), ("single+haproxy", "single"), ("pair+redis", "single"),
             ("pair+redis", "pair")]
    ratios = {f"{a} / {b}": {sc: round(rps(a, sc) / rps(b, sc), 2) for sc in READS}
              for a, b in pairs if a in ran and b in ran}
    medians = {dep: statistics.median(v.values()) for dep, v in ratios.items()}
    chosen = [d for d in DEPLOYMENTS if d[0] in ran]
    out = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python3 bench/replicas.py " + shlex.join(sys.argv[1:]),
        "machine": tools.machine_info(), "commit": harness.git_commit(), "tools": versions,
        "duration_s": args.duration, "connections": args.connections,
        "rows": rows, "ratios_to_single": ratios, "median_ratio_to_single": medians,
    }
    results = harness.RESULTS
    (results / "replicas-postgres-small.json").write_text(json.dumps(out, indent=2) + "\n")
    md = [f"# Several instances: what coherence costs (PostgreSQL, small)", "",
          f"{out['date']}, commit {out['commit']}, `{out['command']}`; "
          f"{out['machine']['nproc']} cores ({out['machine']['cpu_model']}), shared by wrk, "
          f"HAProxy, the instances, PostgreSQL and Redis; wrk {args.connections} connections, "
          f"{args.duration:g} s per row after {args.warmup:g} s of warm-up.", "",
          "req/s (p99 ms):", "",
          "| scenario | " + " | ".join(d[0] for d in chosen) + " |",
          "|---|" + "---:|" * len(chosen)]
    for sc in READS:
        cells = []
        for dep, *_ in chosen:
            r = next(r for r in rows if r["deployment"] == dep and r["scenario"] == sc)
            bad = f", {r['non_2xx'] + r['socket_errors']} failed" if r["non_2xx"] or r["socket_errors"] else ""
            cells.append(f"{r['rps']:,.0f} ({r['p99_ms']:.1f}{bad})")
        md.append(f"| {sc} | " + " | ".join(cells) + " |")
    md += ["", "Ratios of req/s per scenario (`single`: cached, no Redis, no balancer;"
           " `pair`: the same two instances without Redis, whose caches are not coherent):", "",
           "| scenario | " + " | ".join(ratios) + " |", "|---|" + "---:|" * len(ratios)]
    for sc in READS:
        md.append(f"| {sc} | " + " | ".join(f"{ratios[d][sc]:.2f}" for d in ratios) + " |")
    md.append("| **median** | " + " | ".join(f"**{medians[d]:.2f}**" for d in ratios) + " |")
    md += ["", "Peak RSS per instance (MiB): " + "; ".join(
        f"{dep} {max(max(r['hwm_mib']) for r in rows if r['deployment'] == dep)}"
        for dep, *_ in chosen), ""]
    (results / "replicas-postgres-small.md").write_text("\n".join(md))
    log("wrote bench/results/replicas-postgres-small.{md,json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
