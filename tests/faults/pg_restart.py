#!/usr/bin/env python3
"""PostgreSQL restarted under load: only requests in flight during the
restart may fail; every request that starts once PostgreSQL accepts
connections again succeeds, on the pool's old (dead) connections too.

    python3 tests/faults/pg_restart.py [--binary PATH] [--seconds N]

Needs the local cluster (it runs `pg_ctlcluster ... restart`, so root) and
PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres). It
restarts the machine's PostgreSQL: run it alone, not beside other tests."""

import argparse
import os
import subprocess
import sys
import threading
import time

from common import Server, binary

ADMIN = os.environ.get("PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
DB = "conduit_fault_restart"


def psql(sql):
    subprocess.run(["psql", ADMIN, "-qc", sql], check=True, stdout=subprocess.DEVNULL)


def pg_ready():
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary")
    ap.add_argument("--seconds", type=float, default=6.0, help="load after the restart")
    args = ap.parse_args()
    version = sorted(os.listdir("/etc/postgresql"))[0]
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB}")
    base = ADMIN.rsplit("/", 1)[0]
    server = Server(binary(args.binary), {
        "DATABASE_URL": f"{base}/{DB}?sslmode=disable",
        "CACHE_MAX_AGE_SECONDS": "0",
        "CACHE_SIGNED_IN_MS": "0",
        "DATABASE_POOL_TIMEOUT_MS": "1000",
    })
    try:
        token = server.register("loader")
        status, body = server.request("POST", "/api/articles", token, {
            "article": {"title": "Under load", "description": "d", "body": "b"}})
        assert status == 201, (status, body)
        slug = body["article"]["slug"]

        log, lock, stop = [], threading.Lock(), threading.Event()

        def load(worker):
            i = 0
            while not stop.is_set():
                kind = i % 3
                t0 = time.time()
                if kind == 0:
                    status, _ = server.request("GET", "/api/articles")
                elif kind == 1:
                    status, _ = server.request("GET", f"/api/articles/{slug}", token)
                else:
                    status, _ = server.request("POST", f"/api/articles/{slug}/comments", token,
                                               {"comment": {"body": f"{worker}-{i}"}})
                with lock:
                    log.append((t0, time.time(), status))
                i += 1

        threads = [threading.Thread(target=load, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        time.sleep(2)
        down = time.time()
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main",
                        "restart", "-m", "fast"], check=True)
        while not pg_ready():
            time.sleep(0.05)
        up = time.time()
        time.sleep(args.seconds)
        stop.set()
        for t in threads:
            t.join()
    finally:
        code = server.stop()
        psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")

    before = [s for (t0, t1, s) in log if t1 < down and s != 200 and s != 201]
    window = [s for (t0, t1, s) in log if t1 >= down and t0 <= up]
    after = [s for (t0, t1, s) in log if t0 > up]
    failed_window = [s for s in window if s not in (200, 201)]
    failed_after = [s for s in after if s not in (200, 201)]
    print(f"restart took {up - down:.2f} s; {len(log)} requests in all")
    print(f"before: {len(before)} failed; during the restart: {len(failed_window)} of "
          f"{len(window)} failed ({sorted(set(map(str, failed_window)))}); after: "
          f"{len(failed_after)} of {len(after)} failed; server exit {code}")
    ok = not before and not failed_after and len(after) > 50 and code == 0
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
