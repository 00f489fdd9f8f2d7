"""The inspector as a user meets it: ``nanonet inspect TUNNEL`` prints the recent
messages of a running ``nanonet run`` mesh (sequence number, time, length, hex and
text), ``--send SEQ`` replays one (``--text``, ``--edit`` change it first) through the
write path, and a tunnel the host holds no write end of is refused with the reason;
the dashboard does the same in Chromium. The holding mesh (``feeding.py``) keeps what
the host sends in ``hold``'s ring, where the inspector sees it."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from feeding import cli, holding_mesh, running, user_env

pytestmark = pytest.mark.timeout(180)
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
ROW = re.compile(r"#(\d+)\s+(\d\d:\d\d:\d\d\.\d{6})\s+(\d+) B  ([0-9a-f ]+)  \|(.*)\|")


def _rows(out: str) -> list[tuple[int, str, int, str, str]]:
    found = [ROW.fullmatch(line) for line in out.splitlines()]
    assert all(found), out
    return [(int(m[1]), m[2], int(m[3]), m[4], m[5]) for m in found if m]


def _inspect_until(env: dict[str, str], count: int, *args: str) -> str:
    """``nanonet inspect hold`` until it lists ``count`` messages (bounded)."""
    deadline = time.monotonic() + 30
    while True:
        done = cli("inspect", "hold", *args, env=env)
        assert done.returncode == 0, done.stderr
        if len(done.stdout.splitlines()) >= count or time.monotonic() > deadline:
            return done.stdout
        time.sleep(0.05)


def test_inspect_lists_recent_messages_and_sends_one_again_edited(tmp_path: Path) -> None:
    env = user_env(tmp_path)
    lines = tmp_path / "hold.txt"
    lines.write_bytes(b"first\nsecond\n\x01\x02bin\n")
    with running(str(holding_mesh(tmp_path)), "--send", f"hold={lines}", "--send-keep-open",
                 "--feed", "nap", env=env) as run:
        rows = _rows(_inspect_until(env, 3))
        assert [(seq, length, hexed, text) for seq, _t, length, hexed, text in rows] == [
            (0, 5, "66 69 72 73 74", "first"), (1, 6, "73 65 63 6f 6e 64", "second"),
            (2, 5, "01 02 62 69 6e", "..bin")]
        assert _rows(cli("inspect", "hold", "--last", "1", env=env).stdout)[0][0] == 2
        again = cli("inspect", "hold", "--send", "1", env=env)
        edited = cli("inspect", "hold", "--send", "0", "--text", "changed", env=env)
        hexed = cli("inspect", "hold", "--send", "2", "--edit", "ff 00", env=env)
        after = _rows(_inspect_until(env, 6))
        missing = cli("inspect", "hold", "--send", "99", env=env)
        refused = cli("inspect", "held", env=env)
        run.stop()
    assert again.returncode == edited.returncode == hexed.returncode == 0
    assert "sent #0 (edited, 7 bytes) into 'hold'" in edited.stderr
    assert [(seq, hexed, text) for seq, _t, _n, hexed, text in after[3:]] == [
        (3, "73 65 63 6f 6e 64", "second"), (4, "63 68 61 6e 67 65 64", "changed"),
        (5, "ff 00", "�.")]
    assert [t for _s, t, *_ in after] == sorted(t for _s, t, *_ in after)  # in time order
    assert missing.returncode == 1
    assert "message #99 of 'hold' is not among those the inspector holds (#0 to #5)" \
        in missing.stderr
    assert "no sending into 'held': the write end of tunnel 'held' is held by 'sleeper'" \
        in refused.stderr


def test_inspect_send_into_a_tunnel_without_a_host_write_end_is_refused(
        tmp_path: Path) -> None:
    env = user_env(tmp_path)
    lines = tmp_path / "hold.txt"
    lines.write_text("kept\n")
    # hold is fed from the file, then closed: its messages stay, its write end does not
    with running(str(holding_mesh(tmp_path)), "--send", f"hold={lines}", "--feed", "nap",
                 env=env) as run:
        _inspect_until(env, 1)
        done = cli("inspect", "hold", "--send", "0", env=env)
        run.stop()
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "inspect: tunnel 'hold' is closed: nothing more can be sent into it (nanonet run "
        "--send closes it at the end of its file, unless --send-keep-open)")


def test_edit_needs_send_and_hex(tmp_path: Path) -> None:
    env = user_env(tmp_path)
    done = cli("inspect", "hold", "--edit", "00", env=env)
    assert done.returncode == 2
    assert "--edit and --text change the message --send SEQ sends" in done.stderr


def test_dashboard_inspector_picks_edits_and_replays_a_message(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    env = user_env(tmp_path)
    lines = tmp_path / "hold.txt"
    lines.write_text("alpha\nbeta\n")
    with running(str(holding_mesh(tmp_path)), "--send", f"hold={lines}", "--send-keep-open",
                 "--feed", "nap", env=env) as run, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(run.dashboard_url, timeout=30_000)
            page.wait_for_selector("#insp-tunnel option[value=hold]", state="attached",
                                   timeout=30_000)
            page.select_option("#insp-tunnel", "hold")
            page.wait_for_selector("#insp-row-1", timeout=30_000)
            assert "alpha" in page.inner_text("#insp-row-0")
            assert "62 65 74 61" in page.inner_text("#insp-row-1")  # beta, in hex
            page.click("#insp-row-1")
            assert page.input_value("#insp-body") == "beta"
            page.fill("#insp-body", "gamma")
            page.click("#insp-send")
            page.wait_for_selector("#insp-row-2", timeout=30_000)
            assert "gamma" in page.inner_text("#insp-row-2")
            assert "sent 5 bytes into hold" in page.inner_text("#insp-result")
            page.check("#insp-as-hex")
            page.fill("#insp-body", "zz")
            page.click("#insp-send")
            assert "not hex" in page.inner_text("#insp-result")
            page.screenshot(path=str(tmp_path / "inspector.png"))
            page.select_option("#insp-tunnel", "held")
            page.wait_for_function("document.querySelector('#insp-status').textContent"
                                   ".includes('replay refused')", timeout=30_000)
            assert "held by 'sleeper'" in page.inner_text("#insp-status")
        finally:
            browser.close()
        run.stop()
