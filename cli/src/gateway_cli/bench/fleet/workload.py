"""The workload: tenants with long shared system prompts, and their multi-turn sessions.

Deterministic under a seed. Each tenant has a system prompt of ``system_tokens`` tokens
(4 characters a token, as the simulator counts them) and a plan priority; a session is
one tenant's conversation of a few turns, each turn adding a short user message and the
model's answer to the prompt. Every tenant is active from the start: the first sessions
are one per tenant, in a shuffled order, so that a run's warm-up has seen each of them
and what it measures is the fleet in its steady state, not the first sight of a tenant
(a cold prefill under every policy); later sessions go to tenants at random. The
control workload has no shared prefix: every request starts with text of its own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

# Every fourth tenant is high priority, every fourth (offset by two) low, the rest normal.
PRIORITIES = ("high", "normal", "low", "normal")


@dataclass(frozen=True)
class Shape:
    tenants: int = 12
    system_tokens: int = 2000
    user_tokens: int = 40
    output_tokens: int = 16
    turns: tuple[int, int] = (3, 6)
    shared: bool = True

    def working_set_tokens(self) -> int:
        """The shared prefixes alone: what a fleet must hold to serve every tenant warm."""
        return self.tenants * self.system_tokens if self.shared else 0


def _text(rng: random.Random, tokens: int) -> str:
    words = []
    size = 0
    while size < 4 * tokens:
        word = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9)))
        words.append(word)
        size += len(word) + 1
    return " ".join(words)[: 4 * tokens]


@dataclass
class Session:
    tenant: int
    priority: str
    turns_left: int
    messages: list[dict[str, str]] = field(default_factory=list)
    busy: bool = False


class Workload:
    def __init__(self, shape: Shape, seed: int) -> None:
        self.shape = shape
        self._rng = random.Random(seed)  # noqa: S311 - a workload, not security
        self._systems = [_text(self._rng, shape.system_tokens) for _ in range(shape.tenants)]
        self._unseen = self._rng.sample(range(shape.tenants), shape.tenants)
        self.sessions: list[Session] = []

    def next_request(self) -> tuple[Session, dict[str, Any]]:
        """The next turn: of an idle session that has turns left, else a new session's."""
        shape, rng = self.shape, self._rng
        idle = [s for s in self.sessions if not s.busy and s.turns_left > 0]
        if idle and not self._unseen and rng.random() < 0.7:
            session = rng.choice(idle)
        else:
            tenant = self._unseen.pop() if self._unseen else rng.randrange(shape.tenants)
            system = self._systems[tenant] if shape.shared else _text(rng, shape.system_tokens)
            session = Session(
                tenant,
                PRIORITIES[tenant % len(PRIORITIES)],
                rng.randint(*shape.turns),
                [{"role": "system", "content": system}],
            )
            self.sessions.append(session)
        self.sessions = [s for s in self.sessions if s.turns_left > 0 or s.busy]
        session.messages.append({"role": "user", "content": _text(rng, shape.user_tokens)})
        session.turns_left -= 1
        session.busy = True
        body = {
            "messages": list(session.messages),
            "max_tokens": shape.output_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        return session, body

    @staticmethod
    def answered(session: Session, text: str) -> None:
        session.messages.append({"role": "assistant", "content": text})
        session.busy = False
