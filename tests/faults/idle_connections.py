#!/usr/bin/env python3
"""10,000 connections held open against the real binary — half idle
keep-alive connections that finished a request, half slowloris ones whose
request head never ends: other clients are still served, memory stays
bounded, and the slow ones are dropped after CLIENT_REQUEST_TIMEOUT_MS.

    python3 tests/faults/idle_connections.py [--binary PATH] [--connections N]

Exits non-zero if a normal request fails, if the server's peak RSS exceeds
--max-rss-mb, or if the slow connections are not released in time."""

import argparse
import selectors
import socket
import sys
import tempfile
import threading
import time

from common import Server, binary, percentile, raise_fd_limit

HEAD_TIMEOUT_S = 30
# How long after the head timeout every slow connection must be closed.
RELEASE_GRACE_S = 10


def open_connections(port, count, slow):
    held, lock = [], threading.Lock()

    def opener(k):
        mine = []
        for _ in range(k):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            if slow:
                s.sendall(b"GET /api/tags HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            else:
                s.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
                s.recv(4096)
            mine.append(s)
        with lock:
            held.extend(mine)

    threads = [threading.Thread(target=opener, args=(count // 8 + (i < count % 8),))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return held


def released(sockets, within=0.5):
    """How many of `sockets` the server closes (or answers 408 before
    closing) within `within` seconds; the others are still held open."""
    sel = selectors.DefaultSelector()
    for s in sockets:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    count = 0
    deadline = time.time() + within
    while count < len(sockets) and (left := deadline - time.time()) > 0:
        for key, _ in sel.select(timeout=left):
            sel.unregister(key.fileobj)
            try:
                data = key.fileobj.recv(4096)
                count += data == b"" or data.startswith(b"HTTP/1.1 408")
            except OSError:
                count += 1
    sel.close()
    return count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary")
    ap.add_argument("--connections", type=int, default=10_000)
    ap.add_argument("--max-rss-mb", type=float, default=150.0)
    args = ap.parse_args()
    n = args.connections
    limit = raise_fd_limit(n + 2048)
    if limit < n + 100:
        sys.exit(f"file descriptor limit {limit} is too low for {n} connections")
    db = tempfile.mkdtemp(prefix="conduit-idle-") + "/conduit.db"
    server = Server(binary(args.binary), {
        "DATABASE_URL": db,
        "CLIENT_REQUEST_TIMEOUT_MS": str(HEAD_TIMEOUT_S * 1000),
        "KEEP_ALIVE_SECONDS": "75",
    }, fd_limit=n + 2048)
    token = server.register("holder")
    server.request("POST", "/api/articles", token, {
        "article": {"title": "Still served", "description": "d", "body": "b"}})
    rss_before = server.rss_mb()

    started = time.time()
    slow = open_connections(server.port, n // 2, slow=True)
    slow_opened = time.time() - started
    idle = open_connections(server.port, n - n // 2, slow=False)
    opened = time.time() - started

    latencies, failures = [], 0
    peak = server.rss_mb()
    for i in range(300):
        t = time.perf_counter()
        status, _ = server.request("GET", "/api/articles" if i % 2 else "/api/tags")
        latencies.append((time.perf_counter() - t) * 1000)
        failures += status != 200
        if i % 50 == 0:
            peak = max(peak, server.rss_mb())
    peak = max(peak, server.rss_mb())
    still_open = n - released(slow + idle)

    # The slow heads are dropped once their time is up (counted from when
    # the last of them was opened, within a few seconds' grace: the server's
    # timers fire late on a loaded machine); idle keep-alive connections may
    # stay until KEEP_ALIVE_SECONDS.
    time.sleep(max(0.0, started + slow_opened + HEAD_TIMEOUT_S - time.time()))
    slow_released = released(slow, within=RELEASE_GRACE_S)
    for s in slow + idle:
        s.close()
    status_after, _ = server.request("GET", "/api/tags")
    rss_after = server.rss_mb()
    code = server.stop()

    print(f"opened {n} connections ({len(slow)} slowloris, {len(idle)} idle keep-alive) "
          f"in {opened:.1f} s; {still_open} still open while measuring")
    print(f"normal requests meanwhile: {len(latencies)}, failed {failures}, "
          f"p50 {percentile(latencies, 50):.2f} ms, p99 {percentile(latencies, 99):.2f} ms")
    print(f"server RSS: {rss_before:.1f} MiB before, peak {peak:.1f} MiB "
          f"({(peak - rss_before) * 1024 / n:.1f} KiB per connection), "
          f"{rss_after:.1f} MiB after closing")
    print(f"slowloris connections released within {RELEASE_GRACE_S} s after the "
          f"{HEAD_TIMEOUT_S} s head timeout: "
          f"{slow_released} of {len(slow)}; afterwards: {status_after}; exit {code}")
    ok = (failures == 0 and peak <= args.max_rss_mb and still_open >= n * 0.99
          and slow_released == len(slow) and status_after == 200 and code == 0)
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
