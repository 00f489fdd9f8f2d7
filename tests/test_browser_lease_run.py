"""``nanonet run --web``: a host end reads on across a tab that left and came back.

The producer guest streams without end from a tab into the host end ``out``,
which ``nanonet run`` prints. The test closes the page mid-stream: the run
prints the break once ("it may rejoin within its lease") and keeps the end;
a new page opened with the same URL within the lease resumes the stream,
and the run prints on from where it stopped. When the second page closes
and the lease runs out, the run prints the final break and ends. Every
sequence number printed is there exactly once, in order.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser_tab import PRODUCER, need_chromium
from nanonet.bench.chromium import open_tab

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = f"""
[web]
browsers = ["tab"]
lease = 5
configure = {{ producer = [1000000000000, 64] }}

[tunnels.out]
writer = "producer"
reader = "host"
slots = 64
max_payload = 64

[services.producer]
source = "{PRODUCER}"
node = "tab"
"""
HOST_LINE = re.compile(r"host ← out #\d+ \(64 bytes\): ((?:[0-9a-f]{2} ){8})")
STEP = 2000  # messages printed in each tab before it closes


def _collect(stream: Iterator[str], into: list[str]) -> None:
    for line in stream:
        into.append(line)


def _wait_for(lines: list[str], ready: object, what: str, seconds: float = 30) -> None:
    """Until ``ready(lines)`` holds; an AssertionError naming ``what`` if not in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready(lines):  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {seconds} s: {''.join(lines[-5:])}")


def _printed(lines: list[str]) -> int:
    return sum(1 for line in lines if line.startswith("host ← out"))


def _after_break(lines: list[str]) -> int:
    at = next((i for i, line in enumerate(lines) if "may rejoin" in line), len(lines))
    return sum(1 for line in lines[at:] if line.startswith("host ← out"))


@pytest.fixture
def run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, list[str], list[str]]]:
    """``nanonet run --web`` on the manifest, the URL it printed, its stdout lines."""
    need_chromium()
    (tmp_path / "nanonet.toml").write_text(MANIFEST)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "nanonet.cli", "run", "nanonet.toml",
                             "--web", "127.0.0.1:0", "--timeout", "90"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out: list[str] = []
    errors: list[str] = []
    readers = [threading.Thread(target=_collect, args=(pipe, into), daemon=True)
               for pipe, into in ((proc.stdout, out), (proc.stderr, errors))]
    for r in readers:
        r.start()
    try:
        _wait_for(errors, lambda got: any("open http" in line for line in got), "URL")
        url = next(m.group(1) for line in errors if (m := re.search(r"open (http://\S+)", line)))
        yield proc, url, out, errors
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for r in readers:
            r.join(10)
        for pipe in (proc.stdout, proc.stderr):
            assert pipe is not None
            pipe.close()


def test_a_run_reads_on_after_its_tab_comes_back(
        run: tuple[subprocess.Popen[str], str, list[str], list[str]]) -> None:
    proc, url, out, errors = run
    with open_tab(url, 20_000) as page:
        _wait_for(out, lambda got: _printed(got) >= STEP, f"{STEP} messages")
        page.close()  # the tab leaves mid-stream
    _wait_for(out, lambda got: any("may rejoin" in line for line in got), "break")
    assert proc.poll() is None, "".join(errors) + "".join(out[-3:])  # the lease holds the run
    with open_tab(url, 20_000) as page:
        _wait_for(out, lambda got: _after_break(got) >= STEP, "messages after the rejoin")
        page.close()  # it leaves again, and this time its lease runs out
    proc.wait(60)  # the lease runs out: the run ends
    text = "".join(out)
    seqs = [int.from_bytes(bytes.fromhex(h), "little") for h in HOST_LINE.findall(text)]
    assert seqs == list(range(len(seqs)))  # none lost, none twice, in order
    assert text.count("it may rejoin within its lease of 5 s") == 2  # each leave, told once
    assert "did not rejoin within its lease of 5 s" in text  # the last one, final
    assert any("tab node 'tab' may rejoin within 5 s of leaving" in line for line in errors)
