"""``gateway bench --profile perf|cprofile``: where each tier spends its time under load.

The gateway runs as in the benchmark (pinned, zero-latency simulator) and takes two
workloads, non-streaming at 50 clients and streaming at 10; only the measured part of
each is profiled. Profiles and their summaries go to ``<workdir>/profiles/``.

- ``perf`` (sampling, low overhead, sees C and the kernel): ``perf record`` with DWARF
  unwinding on the tier PIDs, which run with ``PYTHON_PERF_JIT_SUPPORT=1`` (Python 3.13)
  so Python functions appear as ``py::name:file`` with whole stacks (``perf inject
  --jit``). Each sample is charged to its innermost Python function
  ("self": the function and the C it calls directly) and to every Python function on its
  stack ("inclusive"). Needs ``perf`` and permission to use it (root here).
- ``cprofile`` (deterministic, heavy overhead, Python only): each tier runs under
  :mod:`gateway_cli.bench.cprofiled`, switched on and off by signals.
"""

from __future__ import annotations

import os
import pstats
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from io import StringIO
from pathlib import Path

from gateway_cli.bench.pinning import Layout, pinned_command
from gateway_cli.bench.runner import Runner
from gateway_cli.bench.systems import TIERS, Systems

PROFILERS = ("perf", "cprofile")
WORKLOADS = (("chat", 50), ("stream", 10))
# Our code, as perf names it ("func (edge/app.py)") and as cProfile paths read.
OURS = ("(edge/", "(policy/", "(router/", "(gateway_shared/")
OURS_PATHS = "/edge/src/|/policy/src/|/router/src/|/shared/src/"
TOP = 25


def run(
    kind: str, workdir: Path, layout: Layout, duration: float, say: Callable[[str], None]
) -> int:
    outdir = workdir / "profiles"
    outdir.mkdir(parents=True, exist_ok=True)
    if kind == "perf":
        if _perf() is None:
            say("perf is not installed (Debian: linux-perf)")
            return 2
        # perf's JIT interface: unwind info for every Python frame, so stacks are whole.
        env, module = {"PYTHON_PERF_JIT_SUPPORT": "1"}, None
    else:
        env, module = {"BENCH_PROFILE_OUT": str(outdir)}, "gateway_cli.bench.cprofiled"
    say(f"profiling with {kind}; pinning: {layout.describe()}")
    with Systems(workdir / "profiled", layout, floor=False, tier_env=env, tier_module=module) as s:
        target = s.targets["gateway"]
        pids = {tier: target.pids[tier] for tier in TIERS}
        runner = Runner(workdir, layout, duration, 2.0, workdir / "k6.log")
        for window, (mode, clients) in enumerate(WORKLOADS, start=1):
            name = f"{mode}-c{clients}"
            say(f"{name}: {duration:g}s through the gateway")
            if kind == "perf":
                data = outdir / f"{name}.perf.data"
                recorder = _PerfRecorder(data, pids, layout)
                measured = runner.measure(
                    target, mode, clients, around=(recorder.start, recorder.stop)
                )
                _inject(data, outdir / f"{name}.perf.jit.data")
            else:
                measured = runner.measure(
                    target,
                    mode,
                    clients,
                    around=(
                        lambda: _signal(pids, signal.SIGUSR1),
                        lambda: _signal(pids, signal.SIGUSR2),
                    ),
                )
            cpu = ", ".join(f"{t} {measured.window.cpu_percent(t):.0f}%" for t in TIERS)
            head = (
                f"# {name}: {measured.k6.rps:.0f} req/s under {kind} "
                f"(p50 {measured.k6.p50:.1f} ms); CPU {cpu}\n"
            )
            for tier, pid in pids.items():
                if kind == "perf":
                    folded = outdir / f"{name}-{tier}.folded"
                    text = perf_summary(outdir / f"{name}.perf.jit.data", pid, folded)
                else:
                    text = cprofile_summary(_wait_for(outdir / f"{tier}-{window}.pstats"))
                path = outdir / f"{name}-{tier}.txt"
                path.write_text(head + f"## {tier}\n" + text)
                say(f"{tier}: {path}")
            if kind == "perf":  # the data needs the jitted objects, removed below
                for suffix in (".perf.data", ".perf.jit.data"):
                    (outdir / f"{name}{suffix}").unlink(missing_ok=True)
    if kind == "perf":
        _clean_jit_files(pids.values())
        shutil.rmtree(outdir / ".perf-home", ignore_errors=True)
    return 0


def _perf() -> str | None:
    return shutil.which("perf")


def _perf_env(outdir: Path) -> dict[str, str]:
    """perf caches every object it sees (each jitted Python function is one) under
    ``$HOME/.debug``: hundreds of MB a run. Its HOME here is a folder of the run's that
    is never created, so nothing is cached (nothing needs to be: the data is read once,
    at once)."""
    home = str(outdir / ".perf-home")
    return os.environ | {"HOME": home, "PERF_BUILDID_DIR": home}


def _inject(data: Path, out: Path) -> None:
    """Resolve the Python frames perf saw through the tiers' jitdump files."""
    subprocess.run(  # noqa: S603 - perf with our arguments
        [_perf() or "perf", "inject", "--jit", "-i", str(data), "-o", str(out)],
        capture_output=True,
        timeout=600,
        check=True,
        env=_perf_env(out.parent),
    )


def _clean_jit_files(pids: Iterable[int]) -> None:
    """The tiers' jitdump files and the objects ``perf inject`` made from them."""
    tmp = Path(tempfile.gettempdir())
    for pid in pids:
        for pattern in (f"jit-{pid}.dump", f"jitted-{pid}-*.so", f"perf-{pid}.map"):
            for path in tmp.glob(pattern):
                path.unlink(missing_ok=True)


def _wait_for(path: Path, timeout: float = 30.0) -> Path:
    """A tier writes its profile after the signal, in its own time."""
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return path


def _signal(pids: dict[str, int], sig: int) -> None:
    for pid in pids.values():
        os.kill(pid, sig)


class _PerfRecorder:
    def __init__(self, data: Path, pids: dict[str, int], layout: Layout) -> None:
        self._command = pinned_command(
            [
                _perf() or "perf",
                "record",
                "--no-buildid-cache",
                "-k",
                "1",
                "-F",
                "299",
                "--call-graph",
                "dwarf,16384",
                "-p",
                ",".join(str(p) for p in pids.values()),
                "-o",
                str(data),
            ],
            layout.load,
        )
        self._data = data
        self._log = data.with_suffix(".log")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._data.unlink(missing_ok=True)
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603 - perf with our arguments
                self._command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_perf_env(self._data.parent),
            )

    def stop(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(120)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _frames(data: Path, pid: int) -> list[list[tuple[str, str]]]:
    """Each sample of ``pid`` as its stack, innermost first: (symbol, dso)."""
    done = subprocess.run(  # noqa: S603 - perf with our arguments
        [
            _perf() or "perf",
            "script",
            "-i",
            str(data),
            "--pid",
            str(pid),
            "--no-inline",
            "-F",
            "pid,ip,sym,dso",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=_perf_env(data.parent),
    )
    samples: list[list[tuple[str, str]]] = []
    stack: list[tuple[str, str]] = []
    for line in done.stdout.splitlines():
        if not line.strip():
            if stack:
                samples.append(stack)
            stack = []
            continue
        if not line.startswith("\t"):
            continue  # the sample's header: the pid
        parts = line.strip().split(" ", 1)
        rest = parts[1] if len(parts) > 1 else "[unknown]"
        sym, _, dso = rest.rpartition(" (")
        stack.append((sym or rest, dso.rstrip(")")))
    if stack:
        samples.append(stack)
    return samples


def _short_dso(dso: str) -> str:
    return os.path.basename(dso) or dso


_STDLIB = re.compile(r"/lib/python3\.\d+/")


def _py(sym: str) -> str | None:
    """``py::Class.method:/path/pkg/mod.py`` -> ``Class.method (pkg/mod.py)``."""
    if not sym.startswith("py::"):
        return None
    name, _, path = sym[4:].partition(":")
    for marker in ("/site-packages/", "/src/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        path = _STDLIB.split(path)[-1]
    return f"{name} ({path})"


def _package(name: str) -> str:
    """``Class.method (pkg/mod.py)`` -> ``pkg`` (a stdlib module for stdlib code)."""
    path = name.rsplit(" (", 1)[-1].rstrip(")")
    return path.split("/", 1)[0].removesuffix(".py")


def perf_summary(data: Path, pid: int, folded: Path | None = None) -> str:
    """The hotspots of ``pid`` in ``data``; ``folded``: also write its stacks folded
    (``outer;...;inner count``, Python frames only) for flamegraph.pl or speedscope."""
    samples = _frames(data, pid)
    total = len(samples)
    if total == 0:
        return "no samples\n"
    if folded is not None:
        stacks: Counter[str] = Counter()
        for stack in samples:
            names = [n for n in (_py(sym) for sym, _ in reversed(stack)) if n]
            stacks[";".join(names) or "[native]"] += 1
        folded.write_text("".join(f"{k} {n}\n" for k, n in stacks.most_common()))
    leaf_dso: Counter[str] = Counter()
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack in samples:
        dso = _short_dso(stack[0][1])
        leaf_dso["jitted Python frames" if dso.startswith("jitted-") else dso] += 1
        names = [n for n in (_py(sym) for sym, _ in stack) if n]
        if names:
            own[names[0]] += 1
            packages[_package(names[0])] += 1
        else:
            own[f"[no Python frame] {stack[0][0]} ({dso})"] += 1
            packages["[no Python frame]"] += 1
        for name in set(names):
            inclusive[name] += 1

    def block(title: str, counts: Counter[str], keep: Callable[[str], bool] = bool) -> str:
        rows = [f"{100 * n / total:6.1f}%  {k}" for k, n in counts.most_common() if keep(k)]
        return f"### {title}\n" + "\n".join(rows[:TOP]) + "\n\n"

    out = StringIO()
    out.write(f"{total} samples\n\n")
    out.write(block("where the CPU is (innermost frame's library)", leaf_dso))
    out.write(block("self by package: innermost Python frame's package", packages))
    out.write(block("self: innermost Python function (with the C it calls)", own))
    out.write(block("inclusive, gateway code only", inclusive, lambda k: any(m in k for m in OURS)))
    out.write(block("inclusive, everything", inclusive))
    return out.getvalue()


def cprofile_summary(path: Path) -> str:
    if not path.exists():
        return f"no profile at {path}\n"
    out = StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(TOP)
    out.write("\n### gateway code by cumulative time\n")
    pstats.Stats(str(path), stream=out).sort_stats("cumulative").print_stats(OURS_PATHS, TOP)
    return out.getvalue()
