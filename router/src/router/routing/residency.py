"""What an engine's prefix cache holds, as far as this router can tell: the prefixes it
sent there, least recently sent first, as many as fit the cache's size (vLLM evicts the
least recently used blocks first), each counted at its latest request's size.

It lets a prefix that must leave its home (``routing/load_aware.py``) tell an engine
with room for it, or that holds it already, from one where it would evict prefixes that
engine's own requests reuse. Requests from other routers fill the cache too, unseen
here: the view errs towards room. An engine that does not report its cache's size
(``EngineLoad.cache_tokens``) is taken to have room.
"""

from __future__ import annotations

from collections import OrderedDict

from router.routing.affinity import Prefix

# Bounds the memory a stream of short, distinct prompts takes; a cache full of those
# says little about room for a long prefix anyway.
MAX_PREFIXES = 4096


class Residency:
    def __init__(self) -> None:
        self._tokens: OrderedDict[int, int] = OrderedDict()
        self._total = 0

    def sent(self, prefix: Prefix, capacity: int | None) -> None:
        """A request with ``prefix`` went to the engine, whose cache holds ``capacity``
        tokens (None: unknown)."""
        if capacity is None:
            return
        tokens = self._tokens
        self._total += prefix.tokens - tokens.pop(prefix.key, 0)
        tokens[prefix.key] = prefix.tokens
        while len(tokens) > 1 and (self._total > capacity or len(tokens) > MAX_PREFIXES):
            self._total -= tokens.popitem(last=False)[1]

    def has_room(self, prefix: Prefix, capacity: int | None) -> bool:
        """Would the engine keep ``prefix`` without evicting one it holds?"""
        return (
            capacity is None
            or prefix.key in self._tokens
            or self._total + prefix.tokens <= capacity
        )
