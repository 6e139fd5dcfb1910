"""schemas/ holds upstream files unchanged, each one listed with its source in its README."""

from __future__ import annotations

import hashlib
import re

from tests.deploy.tools import SCHEMAS

# A row of the README's checksum table: | `path` | `sha256` |
CHECKSUM = re.compile(r"^\| `(?P<path>[^`]+)` \| `(?P<sha256>[0-9a-f]{64})` \|$", re.M)
# A row of its sources table: | `path` | [owner/name](url) | `upstream path` | `commit` | ...
SOURCE = re.compile(
    r"^\| `(?P<path>[^`]+)` \| \[[\w.-]+/[\w.-]+\]\([^)]+\) \| `[^`]+` \| `[0-9a-f]{40}` \| ", re.M
)


def readme() -> str:
    return (SCHEMAS / "README.md").read_text()


def on_disk() -> set[str]:
    return {
        p.relative_to(SCHEMAS).as_posix()
        for p in SCHEMAS.rglob("*")
        if p.is_file() and p.name != "README.md"
    }


def test_every_schema_has_its_source_and_checksum_listed() -> None:
    assert on_disk(), "schemas/ is empty"
    assert {m["path"] for m in SOURCE.finditer(readme())} == on_disk()
    assert {m["path"] for m in CHECKSUM.finditer(readme())} == on_disk()


def test_schemas_are_the_upstream_files_unchanged() -> None:
    for match in CHECKSUM.finditer(readme()):
        digest = hashlib.sha256((SCHEMAS / match["path"]).read_bytes()).hexdigest()
        assert digest == match["sha256"], f"{match['path']} differs from the upstream copy"
