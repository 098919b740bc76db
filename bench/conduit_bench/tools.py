"""Installs the load generators the harness needs when they are missing."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

CARGO_BIN = Path.home() / ".cargo" / "bin"


def _run(cmd: list[str], **kw: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)  # type: ignore[arg-type]


def apt_install(package: str) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        _run(["apt-get", "install", "-y", "-q", package], env=env, stdout=subprocess.DEVNULL)
    except subprocess.CalledProcessError:
        _run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
        _run(["apt-get", "install", "-y", "-q", package], env=env, stdout=subprocess.DEVNULL)


def ensure_wrk() -> str:
    if not shutil.which("wrk"):
        apt_install("wrk")
    return subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]


def ensure_oha() -> str:
    """oha (open-loop HTTP load generator) from crates.io; wrk2 is not packaged in Debian 12."""
    os.environ["PATH"] = f"{CARGO_BIN}:{os.environ['PATH']}"
    if not shutil.which("oha"):
        _run(["cargo", "install", "oha", "--locked"])
    return subprocess.run(["oha", "--version"], capture_output=True, text=True).stdout.strip()


def ensure_pgbench(path: str) -> str:
    if not Path(path).exists():
        apt_install("postgresql-15")
    return subprocess.run([path, "--version"], capture_output=True, text=True).stdout.strip()


def build_server(repo: Path) -> Path:
    _run(["cargo", "build", "--release"], cwd=repo)
    return repo / "target" / "release" / "conduit"


def machine_info() -> dict[str, object]:
    cpu_model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    mem_kib = int(next(l for l in Path("/proc/meminfo").read_text().splitlines()
                       if l.startswith("MemTotal")).split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        # With autogroup on, the kernel shares CPU between sessions first, so
        # the server's SCHED_IDLE hashing threads yield to its own threads but
        # not to PostgreSQL's backends (see bench/README.md, login flood).
        "sched_autogroup": _read("/proc/sys/kernel/sched_autogroup_enabled"),
    }


class StealMeter:
    """The share of the machine's CPU time the hypervisor gave to other
    guests (`steal` in /proc/stat) between start and stop: on a shared VM the
    cores a figure was measured on were not all there while it ran."""

    def __init__(self) -> None:
        self._start = _cpu_times()

    def share(self) -> float | None:
        now = _cpu_times()
        if self._start is None or now is None:
            return None
        total = sum(now) - sum(self._start)
        return round((now[7] - self._start[7]) / total, 3) if total > 0 else None


def _cpu_times() -> list[int] | None:
    """The aggregate `cpu` line of /proc/stat: user, nice, system, idle,
    iowait, irq, softirq, steal (guest time is already inside user)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    return [int(v) for v in fields[1:9]] if fields[0] == "cpu" and len(fields) >= 9 else None


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return "unknown"
