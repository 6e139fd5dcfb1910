"""Just enough of the Dockerfile format to test what a Dockerfile says it does.

Parses instructions (line continuations, comments, flags such as ``--mount=...``, exec
form JSON), groups them into stages, and reads ``.dockerignore`` the way BuildKit does
(patterns relative to the context root, ``**``, ``!`` exceptions, the last match wins).
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Instruction:
    keyword: str
    flags: list[str]
    rest: str
    line: int

    def flag(self, name: str) -> str | None:
        prefix = f"--{name}="
        return next((f.removeprefix(prefix) for f in self.flags if f.startswith(prefix)), None)

    def mounts(self) -> list[dict[str, str]]:
        found = []
        for f in self.flags:
            if f.startswith("--mount="):
                pairs = (part.split("=", 1) for part in f.removeprefix("--mount=").split(","))
                found.append(dict(pairs))
        return found

    def exec_form(self) -> list[str]:
        """The JSON array of CMD / ENTRYPOINT / HEALTHCHECK CMD (shell form is refused)."""
        text = self.rest.removeprefix("CMD").strip() if self.keyword == "HEALTHCHECK" else self.rest
        value = json.loads(text)
        assert isinstance(value, list), text
        assert all(isinstance(v, str) for v in value), text
        return value

    def env_pairs(self) -> dict[str, str]:
        tokens = shlex.split(self.rest)
        if len(tokens) == 2 and "=" not in tokens[0]:  # legacy `ENV NAME value`
            return {tokens[0]: tokens[1]}
        return dict(token.split("=", 1) for token in tokens)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


_FLAG = re.compile(r"--[a-z-]+=\S+")


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer.append(stripped[:-1].strip())
            continue
        buffer.append(stripped)
        yield start, " ".join(part for part in buffer if part)
        buffer = []
    if buffer:
        yield start, " ".join(buffer)


def parse(path: Path) -> list[Stage]:
    stages: list[Stage] = []
    for line, text in _logical_lines(path.read_text()):
        keyword, _, rest = text.partition(" ")
        keyword = keyword.upper()
        flags = []
        rest = rest.strip()
        while match := _FLAG.match(rest):
            flags.append(match.group(0))
            rest = rest[match.end() :].strip()
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
            continue
        assert stages, f"{path}:{line}: {keyword} before FROM"
        stages[-1].instructions.append(Instruction(keyword, flags, rest, line))
    return stages


# ---- .dockerignore ---------------------------------------------------------------------


def _piece_regex(piece: str) -> str:
    # Go's filepath.Match, as Docker uses it: `*` and `?` never cross a `/`.
    return "".join(
        "[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char) for char in piece
    )


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    pieces = pattern.strip("/").split("/")
    body = ""
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        if piece == "**":
            body += ".*" if last else "(?:.*/)?"
        else:
            body += _piece_regex(piece) + ("" if last else "/")
    # A pattern naming a directory excludes (or re-includes) everything below it.
    return re.compile(f"^{body}(?:/.*)?$", re.DOTALL)


def ignore_rules(path: Path) -> list[tuple[bool, str, re.Pattern[str]]]:
    """(is an exception, the pattern, its regex), in file order."""
    rules = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.removeprefix("!")
        rules.append((negate, pattern, _pattern_regex(pattern)))
    return rules


def _excluded(relative: str, rules: list[tuple[bool, str, re.Pattern[str]]]) -> bool:
    excluded = False
    for negate, _, regex in rules:
        if regex.match(relative):
            excluded = not negate
    return excluded


def context_files(root: Path) -> list[str]:
    """Files (relative paths) the build context sends, after .dockerignore."""
    rules = ignore_rules(root / ".dockerignore")
    # The literal start of each exception: an excluded folder that no exception can
    # reach into is not walked (the context walk would otherwise read all of .venv).
    reopen = [re.split(r"[*?\[]", pattern, maxsplit=1)[0] for negate, pattern, _ in rules if negate]
    kept = []
    for folder, dirs, names in os.walk(root):
        base = Path(folder).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        for name in list(dirs):
            relative = prefix + name
            if relative == ".git" or (
                _excluded(relative, rules)
                and not any(r.startswith(relative + "/") or relative.startswith(r) for r in reopen)
            ):
                dirs.remove(name)
        kept += [prefix + n for n in names if not _excluded(prefix + n, rules)]
    return sorted(kept)
