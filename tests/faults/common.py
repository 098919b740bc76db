"""Shared pieces of the process-level fault scripts: start the real binary,
talk HTTP/1.1 to it with the standard library, measure it."""

import http.client
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def binary(path=None):
    for candidate in [path, os.path.join(ROOT, "target/release/conduit"),
                      os.path.join(ROOT, "target/debug/conduit")]:
        if candidate and os.path.exists(candidate):
            return candidate
    sys.exit("no conduit binary: build it first (cargo build)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Server:
    """The binary on a free port with `env` on top of quiet test settings."""

    def __init__(self, exe, env, fd_limit=None):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="conduit-fault-", suffix=".log", delete=False)
        full = {
            "PATH": os.environ.get("PATH", ""),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "JWT_SECRET": "fault-test-secret-fault-test-secret!",
            "RATE_LIMIT": "off",
            "RUST_LOG": "warn",
        }
        full.update(env)

        def limits():
            if fd_limit:
                raise_fd_limit(fd_limit)

        self.proc = subprocess.Popen([exe], env=full, stdout=subprocess.DEVNULL,
                                     stderr=self.log, preexec_fn=limits)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"server exited early: {open(self.log.name).read()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        sys.exit("server did not start")

    def rss_mb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def request(self, method, path, token=None, body=None, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers=headers)
            res = conn.getresponse()
            data = res.read()
            return res.status, (json.loads(data) if data else None)
        except (OSError, http.client.HTTPException) as e:
            return None, str(e)
        finally:
            conn.close()

    def register(self, name):
        status, body = self.request("POST", "/api/users", body={
            "user": {"username": name, "email": f"{name}@example.com",
                     "password": "fault password"}})
        assert status == 201, (status, body)
        return body["user"]["token"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        return self.proc.returncode


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]
