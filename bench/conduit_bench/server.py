"""Starting and stopping the release server, and reading its process figures."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
STATEMENTS_METRIC = "conduit_db_statements_total"


@dataclass
class ServerConfig:
    binary: Path
    database_url: str
    port: int
    jwt_secret: str
    log_path: Path
    pool_max_size: int | None = None
    workers: int | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            PORT=str(self.port),
            HOST="127.0.0.1",
            JWT_SECRET=self.jwt_secret,
            RATE_LIMIT="off",
            RUST_LOG="warn",
        )
        if self.pool_max_size:
            env["DATABASE_POOL_MAX_SIZE"] = str(self.pool_max_size)
        if self.workers:
            env["WORKERS"] = str(self.workers)
        env.update(self.extra_env)
        return env


@dataclass
class Server:
    config: ServerConfig
    proc: subprocess.Popen[bytes] | None = None
    _log: object = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "server not started"
        return self.proc.pid

    def start(self, timeout_s: float = 60.0) -> None:
        self._log = open(self.config.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(self.config.binary)],
            env=self.config.env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_raise_fd_limit,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode}; see {self.config.log_path}"
                )
            if http_status(self.base_url + "/health") == 200:
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server not healthy after {timeout_s}s; see {self.config.log_path}")

    def stop(self, timeout_s: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after timeout_s. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log:
            self._log.close()  # type: ignore[attr-defined]
        code = self.proc.returncode
        self.proc = None
        return code

    def exit_code(self) -> int | None:
        """The exit code once the process has ended (negative: killed by that signal)."""
        return None if self.proc is None else self.proc.poll()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def metrics(self) -> dict[str, float]:
        """The samples of /metrics, by name and labels as written
        (`conduit_db_batch_size_sum{kind="tags"}`)."""
        with urllib.request.urlopen(self.base_url + "/metrics", timeout=10) as resp:
            text = resp.read().decode()
        return {m.group(1): float(m.group(2))
                for m in re.finditer(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$", text, re.M)}

    def statements(self) -> int:
        """conduit_db_statements_total from /metrics."""
        value = self.metrics().get(STATEMENTS_METRIC)
        if value is None:
            raise RuntimeError(f"{STATEMENTS_METRIC} not found in /metrics")
        return int(value)

    def cpu_seconds(self) -> float:
        """utime + stime of the server process (all threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def memory_kib(self) -> dict[str, int]:
        """VmRSS, VmHWM, RssAnon and RssFile in KiB."""
        out: dict[str, int] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0])
        return out


def _raise_fd_limit() -> None:
    """The server may hold as many connections as the hard limit allows."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, OSError):
        return None


@dataclass
class RssSampler:
    """Samples the server's VmRSS in a background thread; keeps the maximum
    and its split into anonymous and file-backed pages."""

    server: Server
    interval_s: float = 0.25
    peak_kib: int = 0
    peak_anon_kib: int = 0
    peak_file_kib: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> "RssSampler":
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self._sample()

    def _sample(self) -> None:
        try:
            memory = self.server.memory_kib()
        except (OSError, AssertionError):
            return
        rss = memory.get("VmRSS", 0)
        if rss > self.peak_kib:
            self.peak_kib = rss
            self.peak_anon_kib = memory.get("RssAnon", 0)
            self.peak_file_kib = memory.get("RssFile", 0)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()
