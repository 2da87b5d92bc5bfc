"""Run the demo banner's commands in order, as printed, the way a newcomer pastes them.

A command that ends in `# NAME: path [NAME: path ...]` sets NAME to that field of
its JSON answer (`items[0].offer.id`); later commands have NAME replaced by it,
as the banner tells the reader to do. A command fails when it exits non-zero or
answers a problem document. Used by the tests and by `.ci/run` on `make run`:

    python -m tests.gateway.demo.walkthrough run.log
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

CAPTURE = re.compile(r"([A-Z][A-Z_]+): (\S+)")
STEP = re.compile(r"\[(\d+)\]|\.?([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True, slots=True)
class Command:
    """One banner command and the fields of its answer that later commands use."""

    line: str
    captures: dict[str, str] = field(default_factory=dict)


class WalkthroughFailed(AssertionError):
    """A banner command did not work as printed."""


def parse_banner(text: str) -> list[Command]:
    """Return the commands of a banner (its lines that start with a command word)."""
    commands = []
    for raw in text.splitlines():
        line = raw.strip()
        if not (line.startswith("curl ") or " ticket verify " in line):
            continue
        command, _, comment = line.partition("  # ")
        commands.append(Command(command, dict(CAPTURE.findall(comment))))
    return commands


def pick(document: Any, path: str) -> Any:
    """Return the field at `items[0].offer.id` of a JSON document."""
    for index, name in STEP.findall(path):
        document = document[int(index)] if index else document[name]
    return document


def run_all(commands: list[Command], cwd: Path, timeout_s: float = 120) -> list[str]:
    """Run every command with bash in `cwd`; return their outputs, raise on the first failure."""
    values: dict[str, str] = {}
    outputs = []
    for command in commands:
        line = command.line
        for name, value in values.items():
            line = re.sub(rf"\b{name}\b", value, line)
        done = subprocess.run(  # noqa: S603
            ["/bin/bash", "-c", line],  # the banner's line, as a person pastes it
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        out = done.stdout
        if done.returncode != 0:
            raise WalkthroughFailed(f"{line}\nexit {done.returncode}\n{out}\n{done.stderr}")
        answer = _json(out)
        if isinstance(answer, dict) and "type" in answer and answer.get("status", 200) >= 400:
            raise WalkthroughFailed(f"{line}\nanswered a problem:\n{out}")
        for name, path in command.captures.items():
            try:
                values[name] = _text(pick(answer, path))
            except (KeyError, IndexError, TypeError) as exc:
                raise WalkthroughFailed(f"{line}\nno {path} in the answer:\n{out}") from exc
        outputs.append(out)
    return outputs


def _text(value: Any) -> str:
    """Return a captured field as a later command pastes it: objects as JSON."""
    return orjson.dumps(value).decode() if isinstance(value, dict | list) else str(value)


def _json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def main(argv: list[str]) -> int:
    """Read the banner from a log (`make run`'s output) and run its commands in this folder."""
    commands = parse_banner(Path(argv[1]).read_text(encoding="utf-8"))
    if not commands:
        print(f"no banner commands in {argv[1]}", file=sys.stderr)  # noqa: T201
        return 1
    for command, out in zip(commands, run_all(commands, Path.cwd()), strict=True):
        print(f"ok: {command.line[:120]}\n    {out.strip()[:160]}")  # noqa: T201
    print(f"{len(commands)} banner commands worked as printed")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
