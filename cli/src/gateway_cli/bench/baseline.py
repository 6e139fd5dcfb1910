"""Another commit of the gateway beside this one: ``gateway bench --compare REV`` checks
it out (a git worktree under the bench's workdir, kept for the next run), installs it
into a virtual environment of its own, and runs its stack next to this one, so the two
are measured in the same interleaved rounds on the same machine minutes."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Baseline:
    commit: str  # short sha
    python: str  # the interpreter of its own venv


def _git(*args: str, cwd: Path) -> str:
    git = shutil.which("git")
    if git is None:
        raise SystemExit("error: --compare needs git on PATH")
    done = subprocess.run(  # noqa: S603 - git, with our arguments
        [git, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"error: git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def prepare(revision: str, workdir: Path) -> Baseline:
    root = Path(_git("rev-parse", "--show-toplevel", cwd=Path.cwd()))
    commit = _git("rev-parse", "--short=12", f"{revision}^{{commit}}", cwd=root)
    tree = workdir / f"baseline-{commit}"
    if not (tree / "pyproject.toml").exists():
        _git("worktree", "prune", cwd=root)
        _git("worktree", "add", "--detach", str(tree), commit, cwd=root)
    uv = shutil.which("uv")
    if uv is None:
        raise SystemExit("error: --compare needs uv on PATH to install the other commit")
    # Every workspace member, without the dev tools: what its tiers need to run.
    subprocess.run(  # noqa: S603 - uv, with our arguments
        [uv, "sync", "--frozen", "--no-dev", "--all-packages", "--quiet"],
        cwd=tree,
        check=True,
    )
    return Baseline(commit, str(tree / ".venv" / "bin" / "python"))
