"""What every benchmark run shares: nginx serving the corpus, per-tool venvs, and measuring a
process tree's wall time, CPU time (children included) and peak resident memory."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
VENVS_DIR = BENCH_DIR / ".venvs"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass
class Measurement:
    tool: str
    scenario: str
    pages: int
    wall_s: float | None
    cpu_s: float | None
    peak_rss_mib: float | None
    note: str = ""

    @property
    def pages_per_s(self) -> float | None:
        return self.pages / self.wall_s if self.wall_s else None

    @property
    def cpu_ms_per_page(self) -> float | None:
        return 1000 * self.cpu_s / self.pages if self.cpu_s is not None else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Nginx:
    """nginx from the Debian package, in the foreground with a generated config: the corpus on
    127.0.0.1 with ETag/Last-Modified (so conditional requests can be answered 304)."""

    def __init__(self, root: Path, work_dir: Path) -> None:
        self.root, self.work_dir = root, work_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Nginx":
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise SystemExit("nginx is not installed: run `apt-get install -y nginx-light` (Debian) first")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        config = self.work_dir / "nginx.conf"
        config.write_text(self._config())
        self.process = subprocess.Popen(
            [binary, "-c", str(config), "-p", str(self.work_dir), "-e", str(self.work_dir / "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base_url + "/robots.txt", timeout=1).read()
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise SystemExit(f"nginx failed to start: {self.process.stderr.read().decode()}")
                time.sleep(0.1)
        raise SystemExit("nginx did not answer within 10 s")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def _config(self) -> str:
        temp = self.work_dir / "tmp"
        temp.mkdir(exist_ok=True)
        user = "root root" if os.geteuid() == 0 else ""  # the workers must read the corpus
        return f"""
daemon off;
{f"user {user};" if user else ""}
worker_processes 1;
pid {self.work_dir}/nginx.pid;
error_log {self.work_dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type text/html;
    access_log off;
    client_body_temp_path {temp};
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.root};
    }}
}}
"""


def venv_python(name: str, requirements: list[str]) -> Path:
    """The python of bench/.venvs/NAME, created and filled with `requirements` on first use."""
    venv = VENVS_DIR / name
    python = venv / "bin" / "python"
    stamp = venv / ".requirements"
    wanted = "\n".join(requirements)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"installing {' '.join(requirements)} into {venv} ...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stamp.write_text(wanted)
    return python


@dataclass
class Finished:
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    returncode: int


def run_measured(command: list[str], log: Path, env: dict | None = None, cwd: Path | None = None) -> Finished:
    """Run a command to completion; its own rusage (wait4) counts it and every child it waited for."""
    start = time.perf_counter()
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    return Finished(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode)


class ProcessTree:
    """CPU seconds and resident memory of a long-running process and its descendants, read
    from /proc: for servers (changedetection.io) that are not waited for between scenarios."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss_kib = 0

    def pids(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError):
                    continue
                children.setdefault(parent, []).append(int(entry.name))
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += children.get(pid, [])
        return found

    def cpu_s(self) -> float:
        ticks = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        return ticks / CLOCK_TICKS

    def sample_rss(self) -> None:
        total = 0
        for pid in self.pids():
            try:
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KIB
            except OSError:
                continue
        self.peak_rss_kib = max(self.peak_rss_kib, total)
