"""``nanonet completion``: scripts made from the argparse tree, which a real
bash (and zsh, where installed) loads and completes with."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nanonet.cli import build_parser
from nanonet.cli.completion_cli import tree


def _script(shell: str) -> str:
    done = subprocess.run([sys.executable, "-m", "nanonet.cli", "completion", shell],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _complete(script: Path, *words: str) -> list[str]:
    """What bash offers after ``nanonet WORDS`` (the last word being typed)."""
    line = " ".join(f"'{w}'" for w in ("nanonet", *words))
    body = (f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words)}; _nanonet; "
            'printf "%s\\n" "${COMPREPLY[@]}"')
    done = subprocess.run(["bash", "-c", body], capture_output=True, text=True, timeout=60,
                          cwd=script.parent)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_tree_holds_every_subcommand() -> None:
    names = [c.name for c in tree(build_parser(), "nanonet").subcommands]
    assert {"new", "check", "run", "build", "top", "completion", "debug"} <= set(names)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_subcommands_options_and_choices(tmp_path: Path) -> None:
    script = tmp_path / "nanonet.bash"
    script.write_text(_script("bash"))
    subcommands = [c.name for c in tree(build_parser(), "nanonet").subcommands]
    assert set(subcommands) <= set(_complete(script, ""))
    assert _complete(script, "ch") == ["check"]
    assert _complete(script, "check", "--j") == ["--json"]
    assert _complete(script, "new", "x", "--template", "") == ["c", "python-component", "rust",
                                                                    "wat"]
    assert _complete(script, "debug", "") == ["adapter", "-h", "--help"]
    assert _complete(script, "completion", "") == ["bash", "zsh", "-h", "--help"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_loads_and_defines_one_function_per_command(tmp_path: Path) -> None:
    script = tmp_path / "_nanonet"
    script.write_text(_script("zsh"))
    body = (f"autoload -U compinit; compinit -u -d {tmp_path / 'zcd'}; source {script}; "
            "whence -w _nanonet_check _nanonet_debug_adapter; print $_comps[nanonet]")
    done = subprocess.run(["zsh", "-f", "-c", body], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["_nanonet_check:", "function", "_nanonet_debug_adapter:",
                                   "function", "_nanonet"]
