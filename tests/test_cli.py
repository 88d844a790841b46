"""The CLI's parser: one command's module imported when a command is named, every command for --help."""
from __future__ import annotations

import pytest

from relmas.cli import COMMANDS, build_parser, main


def _choices(parser) -> set[str]:
    sub = next(a for a in parser._actions if a.dest == "command")
    return set(sub.choices)


def test_named_command_builds_only_its_parser():
    assert _choices(build_parser(["collect", "-o", "x.csv", "a.csv"])) == {"collect"}
    assert _choices(build_parser(["timeloop-inputs", "-o", "d"])) == {"timeloop-inputs"}
    p = build_parser(["bench", "sim", "--json"])
    assert _choices(p) == {"bench"}
    assert p.parse_args(["bench", "sim", "--json"]).json is True


def test_full_parser_for_help_and_unknown_commands(capsys):
    every = {c.replace("_", "-") for c in COMMANDS} | {"bench"}
    assert _choices(build_parser()) == every
    assert _choices(build_parser(["--help"])) == every
    assert _choices(build_parser(["nonesuch"])) == every
    with pytest.raises(SystemExit) as e:
        main(["nonesuch"])
    assert e.value.code == 2
    assert "invalid choice: 'nonesuch'" in capsys.readouterr().err
