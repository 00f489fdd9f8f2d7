"""The pages users look for are current: the CLI reference, the environment
variables, the links between pages, and the API reference pdoc makes."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nanonet
from nanonet.cli import build_parser
from nanonet.cli.reference import ENVIRONMENT, markdown

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted([ROOT / "README.md", *DOCS.glob("*.md"),
                *(ROOT / "src" / "nanonet" / "examples").glob("*/README.md")])
# os.environ.get("X"), os.environ["X"], os.getenv("X")
READS_ENV = re.compile(r"""(?:environ\.get\(|environ\[|getenv\()\s*["']([A-Z][A-Z0-9_]+)["']""")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_the_cli_page_is_current() -> None:
    assert (DOCS / "cli.md").read_text() == markdown(), (
        "refresh it: python -m nanonet.cli.reference > docs/cli.md")


def test_every_command_and_option_is_on_the_cli_page() -> None:
    text = (DOCS / "cli.md").read_text()
    sub = next(a for a in build_parser()._actions
               if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        assert f"## `nanonet {name}`" in text
        for action in parser._actions:
            for option in set(action.option_strings) - {"-h", "--help"}:
                assert f"`{option}" in text, f"nanonet {name} {option}"


def _env_read_by(paths: list[Path]) -> set[str]:
    return {m for p in paths for m in READS_ENV.findall(p.read_text())}


def test_every_environment_variable_read_is_documented() -> None:
    read = _env_read_by([*(ROOT / "src").rglob("*.py"), *(ROOT / "tests").rglob("*.py")])
    assert "NANONET_CACHE" in read  # the pattern finds what it must
    assert read - {"CI", "HOME", "PATH"} <= set(ENVIRONMENT), read - set(ENVIRONMENT)
    assert not set(ENVIRONMENT) - read, "documented but never read"


def _targets(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # code is not links
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    missing = [t for t in _targets(page)
               if t.split("#")[0] and not (page.parent / t.split("#")[0]).exists()]
    assert not missing


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_anchors_name_headings(page: Path) -> None:
    """``page.md#x`` and ``#x`` name a heading of that page (GitHub's slugs)."""
    for target in _targets(page):
        path, _, anchor = target.partition("#")
        if not anchor or not path.endswith((".md", "")) or (path and not path.endswith(".md")):
            continue
        heads = re.findall(r"^#+ (.+)$", (page.parent / path if path else page).read_text(),
                           flags=re.M)
        slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in heads}
        assert anchor in slugs, f"{target} in {page.name}"


def test_the_api_reference_has_every_public_name(tmp_path: Path) -> None:
    pytest.importorskip("pdoc", reason="the API reference is made with pdoc (the dev extra)")
    subprocess.run([sys.executable, "-m", "pdoc", "-o", str(tmp_path), "nanonet"],
                   check=True, capture_output=True, timeout=300)
    page = (tmp_path / "nanonet.html").read_text()
    missing = [name for name in nanonet.__all__ if f'id="{name}"' not in page]
    assert not missing


def test_the_readme_starts_with_the_two_commands() -> None:
    """The first screen on the package index and in the repository alike."""
    first = (ROOT / "README.md").read_text().split("```")[1].splitlines()
    assert first[0] == "sh"
    assert first[1].startswith("bash scripts/setup && .venv/bin/nanonet demo ")
    assert first[2].startswith("bash .ci/run ")
