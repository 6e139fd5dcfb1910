"""What a benchmark run produces: measured runs, the soak, the machine; saved as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from gateway_cli.bench.k6run import K6Result
from gateway_cli.bench.sampling import RssSample, Window

MODES = {
    "chat": "non-streaming",
    "stream": "streaming",
    "responses": "Responses API (bridged to chat)",
    "messages": "Messages API (bridged to chat)",
}
# Modes that only the gateway serves: a Responses or Messages request translated to chat
# completions for the simulator, measured against the gateway's own chat in the same rounds.
BRIDGES = ("responses", "messages")
# % of a core used by processes we did not start, above which a run counts as noisy.
NOISY = 15.0


@dataclass
class Measurement:
    target: str
    title: str
    mode: str  # a key of MODES
    clients: int
    k6: K6Result
    window: Window
    # Processes that make up the system under test (CPU per request counts these).
    sut: tuple[str, ...] = ()
    round: int = 1

    def sut_cpu_percent(self) -> float:
        return sum(self.window.cpu_percent(name) for name in self.sut)

    def other_load(self, sut_cores: list[int], load_cores: list[int]) -> tuple[float, float]:
        """CPU (% of one core) that processes other than ours used on the system under
        test's cores and on the load cores: noise from the rest of the machine."""
        busy = self.window.core_busy
        sut = sum(busy.get(c, 0.0) for c in sut_cores) - self.sut_cpu_percent()
        ours = self.window.cpu_percent("k6") + self.window.cpu_percent("simulator")
        load = sum(busy.get(c, 0.0) for c in load_cores) - ours
        return max(sut, 0.0), max(load, 0.0)

    def cpu_ms_per_request(self) -> float:
        used = sum(self.window.cpu.get(name, 0.0) for name in self.sut)
        return 1000.0 * used / self.k6.requests if self.k6.requests else 0.0


@dataclass
class Soak:
    seconds: float
    rate: int
    stream_share: float
    k6: K6Result
    samples: list[RssSample]
    tiers: tuple[str, ...]


@dataclass
class Results:
    command: str
    started: str
    machine: dict[str, str]
    layout: str
    cores: dict[str, list[int]]  # "sut" and "load" core numbers (empty: not pinned)
    settings: dict[str, Any]
    runs: list[Measurement] = field(default_factory=list)  # each configuration's median round
    rounds: list[Measurement] = field(default_factory=list)  # every round, for per-round diffs
    clients: list[Measurement] = field(default_factory=list)  # the HTTP client comparison
    soak: Soak | None = None
    rss_after: dict[str, float] = field(default_factory=dict)

    def find(self, target: str, mode: str, clients: int) -> Measurement | None:
        for run in self.runs:
            if (run.target, run.mode, run.clients) == (target, mode, clients):
                return run
        return None

    def bridge_costs(self, target: str, mode: str, clients: int) -> list[float]:
        """Per round: a bridge's p50 minus the same system's chat p50 in that round."""
        chat = {
            r.round: r.k6.p50
            for r in self.rounds
            if (r.target, r.mode, r.clients) == (target, "chat", clients)
        }
        return [
            r.k6.p50 - chat[r.round]
            for r in self.rounds
            if (r.target, r.mode, r.clients) == (target, mode, clients) and r.round in chat
        ]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for group in ("runs", "rounds", "clients"):
            for run in data[group]:
                run["k6"].pop("summary", None)
        if data["soak"]:
            data["soak"]["k6"].pop("summary", None)
        return data
