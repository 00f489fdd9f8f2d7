"""``nanonet completion bash|zsh``: a completion script made from the parser.

The script is generated from the argparse tree ``build_parser`` makes, so it
names every subcommand, option and choice that ``nanonet --help`` does, and
cannot fall behind it. Install with ``eval "$(nanonet completion bash)"`` in
``~/.bashrc`` (or ``nanonet completion zsh > ~/.zfunc/_nanonet``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Command:
    """What can follow one command word: options, choices and subcommands."""

    name: str
    help: str = ""
    options: list[tuple[str, str, bool]] = field(default_factory=list)  # flag, help, arg?
    choices: list[str] = field(default_factory=list)
    values: dict[str, list[str]] = field(default_factory=dict)  # option -> its choices
    subcommands: list[Command] = field(default_factory=list)
    files: bool = False  # a positional that is not a choice: complete file names


def _subactions(parser: argparse.ArgumentParser) -> list[argparse._SubParsersAction[Any]]:
    return [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]


def tree(parser: argparse.ArgumentParser, name: str, help: str = "") -> Command:
    """The completion tree of ``parser`` (argparse's own record of its arguments)."""
    cmd = Command(name, help)
    helps = {c.dest: c.help or "" for s in _subactions(parser) for c in s._choices_actions}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            cmd.subcommands += [tree(p, n, helps.get(n, "")) for n, p in action.choices.items()]
        elif action.option_strings:
            for flag in action.option_strings:
                cmd.options.append((flag, action.help or "", action.nargs != 0))
                if action.choices:
                    cmd.values[flag] = [str(c) for c in action.choices]
        elif action.choices:
            cmd.choices += [str(c) for c in action.choices]
        else:
            cmd.files = True
    return cmd


def _words(cmd: Command) -> str:
    opts = [f for f, _, _ in cmd.options]
    return " ".join([*(c.name for c in cmd.subcommands), *cmd.choices, *opts])


def _bash_cases(cmd: Command, path: str) -> list[str]:
    files = ' COMPREPLY+=($(compgen -f -- "$cur"));' if cmd.files else ""
    values = "".join(f'{flag}) COMPREPLY=($(compgen -W "{" ".join(v)}" -- "$cur")); return ;; '
                     for flag, v in cmd.values.items())
    after = f'case "$prev" in {values}esac; ' if values else ""
    lines = [f'        "{path}") {after}COMPREPLY=($(compgen -W "{_words(cmd)}" -- "$cur"));'
             f'{files} ;;']
    for sub in cmd.subcommands:
        lines += _bash_cases(sub, f"{path} {sub.name}".strip())
    return lines


def bash(root: Command) -> str:
    """A bash function completing the command path typed so far, then its words."""
    return "\n".join([
        "# nanonet completion for bash: eval \"$(nanonet completion bash)\"",
        "_nanonet() {",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
        '    local path="" i word',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        word="${COMP_WORDS[i]}"',
        '        case "$word" in -*) continue ;; esac',
        '        case " $(_nanonet_subcommands "$path") " in',
        '            *" $word "*) path="${path:+$path }$word" ;;',
        "        esac",
        "    done",
        '    case "$path" in',
        *_bash_cases(root, ""),
        "    esac",
        "}",
        "_nanonet_subcommands() {",
        '    case "$1" in',
        *_bash_subs(root, ""),
        "    esac",
        "}",
        "complete -o default -F _nanonet nanonet",
        "",
    ])


def _bash_subs(cmd: Command, path: str) -> list[str]:
    if not cmd.subcommands:
        return []
    lines = [f'        "{path}") echo "{" ".join(s.name for s in cmd.subcommands)}" ;;']
    for sub in cmd.subcommands:
        lines += _bash_subs(sub, f"{path} {sub.name}".strip())
    return lines


def _zsh_quote(text: str, colon: bool = False) -> str:
    """``text`` inside '...' of an _arguments spec; ``colon``: in a _describe name."""
    text = (text.replace("\\", "\\\\").replace("'", "'\\''").replace("[", "\\[")
            .replace("]", "\\]"))
    return text.replace(":", "\\:") if colon else text


def _zsh_value(cmd: Command, flag: str) -> str:
    values = cmd.values.get(flag)
    return f":value:({' '.join(values)})" if values else ":value: "


def _zsh_function(cmd: Command, fname: str) -> list[str]:
    specs = [f"'{flag}[{_zsh_quote(h)}]{_zsh_value(cmd, flag) if arg else ''}'"
             for flag, h, arg in cmd.options]
    lines = [f"{fname}() {{"]
    if cmd.subcommands:
        described = " ".join(f"'{_zsh_quote(s.name, colon=True)}:{_zsh_quote(s.help)}'"
                             for s in cmd.subcommands)
        lines += [f"  local -a commands=({described})",
                  f"  _arguments -C {' '.join(specs)} '1: :->cmd' '*:: :->rest'",
                  "  case $state in",
                  "    cmd) _describe command commands ;;",
                  "    rest) case $words[1] in"]
        lines += [f"      {s.name}) {fname}_{s.name.replace('-', '_')} ;;"
                  for s in cmd.subcommands]
        lines += ["    esac ;;", "  esac", "}"]
        for s in cmd.subcommands:
            lines += _zsh_function(s, f"{fname}_{s.name.replace('-', '_')}")
        return lines
    rest = f"'*: :({' '.join(cmd.choices)})'" if cmd.choices else (
        "'*:file:_files'" if cmd.files else "")
    return [*lines, f"  _arguments {' '.join(specs)} {rest}", "}"]


def zsh(root: Command) -> str:
    """A zsh completion function (``#compdef nanonet``), one function per command."""
    return "\n".join(["#compdef nanonet", "# nanonet completion for zsh",
                      *_zsh_function(root, "_nanonet"),
                      'if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _nanonet "$@"; '
                      "else compdef _nanonet nanonet; fi", ""])


def _completion(args: argparse.Namespace) -> int:
    from . import build_parser

    root = tree(build_parser(), "nanonet")
    sys.stdout.write(bash(root) if args.shell == "bash" else zsh(root))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("completion", help="print a shell completion script",
                       description="Print a completion script for SHELL, made from "
                       "nanonet's own argument parser. bash: eval \"$(nanonet completion "
                       "bash)\" in ~/.bashrc; zsh: nanonet completion zsh > a directory of "
                       "$fpath as _nanonet.")
    p.add_argument("shell", choices=("bash", "zsh"), metavar="SHELL", help="bash or zsh")
    p.set_defaults(func=_completion)
