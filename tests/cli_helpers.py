"""Running the command line in-process, the way a person would from a shell."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from typer.testing import CliRunner

from mailflow.cli.app import configure_for_tests
from mailflow.cli.main import app


@dataclass
class Result:
    exit_code: int
    output: str  # stdout and stderr together


def run_cli(args: Sequence[str], *, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    configure_for_tests()
    runner = CliRunner()
    result = runner.invoke(app, list(args), env=env, input=input, catch_exceptions=False)
    return Result(result.exit_code, result.output)
