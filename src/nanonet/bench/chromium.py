"""Headless Chromium as this machine runs it: one way to open a tab.

Debian's Chromium, started with the flags it needs here (no sandbox, no
GPU, no background traffic, a fresh profile; Playwright's own browser
download does not work offline). The browser benches and the browser tests
open their tabs through ``open_tab``, so a flag changes in one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM = "/usr/bin/chromium"
FLAGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")


@contextmanager
def open_tab(url: str, timeout_ms: float | None = None) -> Iterator[Any]:
    """A Playwright page of a fresh headless Chromium, loaded from ``url``
    (``timeout_ms``: how long the load may take, Playwright's default if
    None); the browser closes when the block ends, however it ends."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=list(FLAGS))
        try:
            page = browser.new_page()
            page.goto(url, timeout=timeout_ms)
            yield page
        finally:
            browser.close()
