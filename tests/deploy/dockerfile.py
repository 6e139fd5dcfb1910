"""Just enough of the Dockerfile format to test what a Dockerfile says it does.

Parses instructions (line continuations, comments, flags such as ``--mount=...``, exec
form JSON), groups them into stages, evaluates build arguments the way BuildKit does, and
reads ``.dockerignore`` the way BuildKit does (patterns relative to the context root,
``**``, ``!`` exceptions, the last match wins).

Build arguments (``Dockerfile.evaluate``): an ``ARG NAME[=default]`` before the first FROM
is global, seen by FROM lines and by a stage's own ``ARG NAME`` without a default; in a
stage, an ARG takes its ``--build-arg`` value, else its default, else the global one, else
it stays unset. ``$NAME``, ``${NAME}``, ``${NAME:-word}``, ``${NAME-word}``,
``${NAME:+word}``, ``${NAME+word}``, ``${NAME:?message}`` and ``${NAME?message}`` are
substituted, ENV winning over an ARG of the same name, in the instructions Docker
substitutes in: FROM, ARG defaults, ENV (names and values), COPY, ADD, EXPOSE, LABEL,
USER, WORKDIR, VOLUME, STOPSIGNAL, and the flags of every instruction (``--mount``,
``--from``). Never in CMD, ENTRYPOINT, HEALTHCHECK or a RUN command: a shell expands those
at run time, if any runs them, with the ARGs and ENV of ``Instruction.env``. Stricter than
Docker, which only warns: a build argument that no ARG declares is an error (a typo in
compose or CI would otherwise go unnoticed).
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path


class BuildError(Exception):
    """The build stops here, as Docker's would."""


@dataclass
class Instruction:
    keyword: str
    flags: list[str]
    rest: str
    line: int
    # Once evaluated: the ARGs and ENV in effect, what a RUN command's shell sees.
    env: dict[str, str] = field(default_factory=dict)

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

    def arg_names(self) -> list[str]:
        return [token.split("=", 1)[0] for token in shlex.split(self.rest)]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)
    # Once evaluated: the image's ENV when the stage ends (a child stage starts from it).
    env: dict[str, str] = field(default_factory=dict)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


# ---- substitution ----------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MODIFIER = re.compile(r"(:?)([-+?])")


def _braced(text: str, start: int) -> int:
    """The index of the ``}`` closing the ``${`` at ``start``, nested ones included."""
    depth, index = 0, start
    while index < len(text):
        if text.startswith("${", index):
            depth += 1
            index += 2
            continue
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise BuildError(f"syntax error: missing '}}' in {text!r}")


def _variable(text: str, start: int, env: Mapping[str, str]) -> tuple[str, int]:
    """Substitute the ``$...`` at ``start``: its value and the index after it."""
    if text.startswith("${", start):
        end = _braced(text, start)
        inner = text[start + 2 : end]
        name = _NAME.match(inner)
        if name is None:
            raise BuildError(f"syntax error: bad substitution {text[start : end + 1]!r}")
        key, tail = name.group(0), inner[name.end() :]
        value = env.get(key)
        if not tail:
            return value or "", end + 1
        modifier = _MODIFIER.match(tail)
        if modifier is None:  # ${NAME#...}, ${NAME%...}, ${NAME/...}: not used, not emulated
            raise BuildError(f"substitution {text[start : end + 1]!r} is not emulated")
        colon, kind = modifier.groups()
        word = expand_word(tail[modifier.end() :], env)
        missing = value is None or (colon == ":" and value == "")
        if kind == "-":
            return (word if missing else value or ""), end + 1
        if kind == "+":
            return ("" if missing else word), end + 1
        if missing:  # `?`: the build stops
            raise BuildError(f"{key}: {word or 'is not allowed to be unset'}")
        return value or "", end + 1
    name = _NAME.match(text, start + 1)
    if name is None:
        return "$", start + 1
    return env.get(name.group(0), ""), name.end()


def _process(text: str, env: Mapping[str, str], split: bool) -> list[str]:
    """Docker's word processing: quotes removed, ``\\`` escapes, variables substituted
    (not in single quotes), and with ``split`` the text cut into words at blanks outside
    quotes (a substituted value is not cut again)."""
    words: list[str] = []
    current: list[str] = []
    in_word = False
    quote = ""  # the quote the text is in, if any
    index = 0
    while index < len(text):
        char = text[index]
        if quote == "'":  # everything literal up to the closing quote
            if char == "'":
                quote = ""
            else:
                current.append(char)
            index += 1
            continue
        if split and not quote and char.isspace():
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
            index += 1
            continue
        in_word = True
        if char in "'\"" and (not quote or char == quote):
            quote = "" if quote else char
            index += 1
        elif char == "\\" and (not quote or text[index + 1 : index + 2] in ('"', "\\", "$")):
            current.append(text[index + 1 : index + 2])
            index += 2
        elif char == "$":
            value, index = _variable(text, index, env)
            current.append(value)
        else:
            current.append(char)
            index += 1
    if quote:
        raise BuildError(f"unmatched {quote} in {text!r}")
    if in_word:
        words.append("".join(current))
    return words


def expand_words(text: str, env: Mapping[str, str]) -> list[str]:
    """Arguments of COPY, EXPOSE, ...: cut into words, each substituted."""
    return _process(text, env, split=True)


def expand_word(text: str, env: Mapping[str, str]) -> str:
    """One word (a flag's value, a default, a FROM image): substituted, never cut."""
    return "".join(_process(text, env, split=False))


def _pairs(instruction: Instruction, env: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """The NAME[=value] words of ARG, ENV or LABEL, names and values substituted."""
    first, _, legacy_value = instruction.rest.strip().partition(" ")
    if instruction.keyword == "ENV" and legacy_value and "=" not in first:
        return [(expand_word(first, env), expand_word(legacy_value.strip(), env))]  # ENV A b c
    pairs: list[tuple[str, str | None]] = []
    for word in expand_words(instruction.rest, env):
        name, has_value, value = word.partition("=")
        pairs.append((name, value if has_value else None))
    return pairs


def _joined(pairs: Mapping[str, str | None]) -> str:
    return " ".join(shlex.quote(k if v is None else f"{k}={v}") for k, v in pairs.items())


# Instructions whose arguments the builder substitutes, besides ARG, ENV and LABEL (pairs).
SUBSTITUTED = {"COPY", "ADD", "EXPOSE", "USER", "WORKDIR", "VOLUME", "STOPSIGNAL"}


@dataclass
class Dockerfile:
    meta_args: list[Instruction]  # ARGs before the first FROM
    stages: list[Stage]

    def evaluate(
        self,
        build_args: Mapping[str, str] | None = None,
        image_env: Mapping[str, str] | None = None,
    ) -> list[Stage]:
        """The stages as Docker builds them with these ``--build-arg`` values.

        ``image_env``: the ENV every base image brings (Docker reads it from the image;
        an earlier stage named in FROM brings its own, ``scratch`` none).
        """
        given = dict(build_args or {})
        consumed: set[str] = set()
        meta: dict[str, str] = {}
        for instruction in self.meta_args:
            for name, default in _pairs(instruction, meta):
                consumed.add(name)
                if name in given:
                    meta[name] = given[name]
                elif default is not None:
                    meta[name] = default
        done: list[Stage] = []
        for stage in self.stages:
            base = expand_word(stage.base, meta)
            if not base:
                raise BuildError(f"base name ({stage.base}) should not be blank")
            parent = next((s for s in done if s.name and s.name.lower() == base.lower()), None)
            if parent is not None:
                env = dict(parent.env)
            elif base == "scratch":
                env = {}
            else:
                env = dict(image_env or {})
            args: dict[str, str] = {}
            out = Stage(base=base, name=stage.name)
            for instruction in stage.instructions:
                scope = args | env
                flags = []
                for flag in instruction.flags:
                    name, _, value = flag.partition("=")
                    flags.append(f"{name}={expand_word(value, scope)}")
                rest = instruction.rest
                if instruction.keyword == "ARG":
                    declared: dict[str, str | None] = {}
                    for name, default in _pairs(instruction, scope):
                        consumed.add(name)
                        value = given.get(name, default if default is not None else meta.get(name))
                        declared[name] = value
                        if value is None:
                            args.pop(name, None)
                        else:
                            args[name] = value
                    rest = _joined(declared)
                elif instruction.keyword in ("ENV", "LABEL"):
                    pairs = {name: value or "" for name, value in _pairs(instruction, scope)}
                    if instruction.keyword == "ENV":
                        env.update(pairs)
                    rest = _joined(pairs)
                elif instruction.keyword in SUBSTITUTED:
                    rest = " ".join(shlex.quote(w) for w in expand_words(rest, scope))
                out.instructions.append(
                    replace(instruction, flags=flags, rest=rest, env=dict(scope))
                )
            out.env = env
            done.append(out)
        unknown = sorted(set(given) - consumed)
        if unknown:
            raise BuildError(f"build arguments that no ARG declares: {', '.join(unknown)}")
        return done


# ---- parsing ---------------------------------------------------------------------------

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


def parse_text(text: str, where: str = "Dockerfile") -> Dockerfile:
    meta_args: list[Instruction] = []
    stages: list[Stage] = []
    for line, logical in _logical_lines(text):
        keyword, _, rest = logical.partition(" ")
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
        instruction = Instruction(keyword, flags, rest, line)
        if not stages:
            assert keyword == "ARG", f"{where}:{line}: {keyword} before FROM"
            meta_args.append(instruction)
            continue
        stages[-1].instructions.append(instruction)
    return Dockerfile(meta_args, stages)


def parse(path: Path) -> Dockerfile:
    return parse_text(path.read_text(), str(path))


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
