"""`make run` and Ctrl-C: web, worker and beat stop cleanly, the runner exits 0 (so
make reports no error), and the log keeps one time zone, which its first line states.

Runs the real `make run` (embedded mode: SQLite and the filesystem broker in a
temporary folder, whatever DATABASE_URL / REDIS_URL the suite has) and sends
SIGINT to its process group, as a terminal's Ctrl-C does. GNU make itself, once
its recipe has ended, always re-raises the SIGINT it got (so a shell sees the
interruption): its own status is that signal, never "Error 130".
"""

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READY = ("Listening at: http://", "ready.", "beat: Starting...")

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(path: Path, texts, seconds: float) -> str:
    """The log once it holds every one of `texts` (polls the file the run writes)."""
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        log = path.read_text(errors="replace")
        if all(t in log for t in texts):
            return log
        time.sleep(0.5)
    raise AssertionError(f"never saw {texts} in:\n{path.read_text(errors='replace')[-3000:]}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ctrl_c_stops_web_worker_and_beat_cleanly_and_exits_0(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "RESPONDER_VAR_DIR": str(tmp_path / "var"),
        "WEB_PORT": str(free_port()),
        "WEB_CONCURRENCY": "1",
        "WORKER_CONCURRENCY": "1",
        "TIME_ZONE": "Asia/Shanghai",
    }
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        run = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's job
        )
    try:
        wait_for(log_path, READY, seconds=240)
        stopped_at = time.monotonic()
        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C
        status = run.wait(timeout=60)
        took = time.monotonic() - stopped_at
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    output = log_path.read_text(errors="replace")

    assert status in (0, -signal.SIGINT), output[-3000:]
    # make names a recipe that failed or was killed ("*** [Makefile:NN: run] Error 130"
    # or "Interrupt"); the runner's exit 0 leaves nothing to name.
    assert not re.search(r"make(\[\d+\])?: \*\*\*", output), output[-3000:]
    assert "Error 130" not in output
    assert took < 30, took
    assert "SIGKILL" not in output
    for name in ("web.1", "worker.1", "beat.1"):
        assert f"{name} stopped (rc=0)" in output, output[-3000:]
    assert "system   | stopped cleanly" in output
    assert "worker: Warm shutdown" in output
    assert "Shutting down: Master" in output
    # One zone, stated once at the top; gunicorn's own stamps agree with it.
    honcho_lines = [line for line in output.splitlines() if re.match(r"\d\d:\d\d:\d\d ", line)]
    assert "times in this log are Asia/Shanghai (UTC+08:00)" in honcho_lines[0]
    assert "+0000]" not in output
    assert re.search(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0800\]", output)
    started = [int(p) for p in re.findall(r"started \(pid=(\d+)\)", output)]
    assert len(started) == 3
    assert not [pid for pid in started if alive(pid)]
