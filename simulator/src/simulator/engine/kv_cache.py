"""A paged KV cache of fixed capacity with prefix caching, as vLLM's V1 block pool.

A prompt is cut into blocks of ``block_size`` tokens; a full block's hash covers its
parent's (:func:`block_hashes`), so a block can only be a hit if its whole prefix is.
A block is *in use* while a request holds it (reference counted, shared between
requests with the same prefix) and *cached* once freed: still findable by its hash
until it is evicted, least recently freed first, to make room.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

BlockHash = bytes


def block_hashes(text: str, tokens: int, block_size: int) -> tuple[BlockHash, ...]:
    """The chained hashes of a prompt's full blocks.

    The simulator has no tokenizer: a token is four characters of the rendered prompt
    (as :func:`simulator.generation.estimate_tokens` counts them).
    """
    chars = 4 * block_size
    full = min(tokens, len(text) // 4) // block_size
    hashes: list[BlockHash] = []
    parent = b""
    for i in range(full):
        piece = text[i * chars : (i + 1) * chars].encode()
        parent = hashlib.blake2b(parent + piece, digest_size=16).digest()
        hashes.append(parent)
    return tuple(hashes)


class KVCache:
    """``num_blocks`` blocks; counts in blocks, requests hold lists of block ids."""

    def __init__(self, num_blocks: int, *, prefix_caching: bool = True) -> None:
        self.num_blocks = num_blocks
        self.prefix_caching = prefix_caching
        self._refs: dict[int, int] = {}  # block id -> holders (in use)
        self._hash_of: dict[int, BlockHash] = {}
        self._by_hash: dict[BlockHash, int] = {}
        # Free blocks that still hold a prefix, oldest first: evicted in this order.
        self._cached: OrderedDict[int, None] = OrderedDict()
        self._never_used = list(range(num_blocks - 1, -1, -1))

    @property
    def used(self) -> int:
        return len(self._refs)

    @property
    def free(self) -> int:
        return self.num_blocks - self.used

    @property
    def usage(self) -> float:
        """Share of blocks held by requests (``vllm:kv_cache_usage_perc``)."""
        return self.used / self.num_blocks

    def cached_prefix(self, hashes: Sequence[BlockHash]) -> int:
        """How many leading blocks of ``hashes`` are in the cache (in use or free)."""
        if not self.prefix_caching:
            return 0
        hits = 0
        for h in hashes:
            if h not in self._by_hash:
                break
            hits += 1
        return hits

    def allocate(self, hashes: Sequence[BlockHash], hit_blocks: int, new_blocks: int) -> list[int]:
        """Hold the first ``hit_blocks`` cached blocks of ``hashes`` and ``new_blocks``
        fresh ones; raises :class:`MemoryError` (holding nothing) if they do not fit."""
        hits = [self._by_hash[h] for h in hashes[:hit_blocks]]
        reusable = sum(1 for b in hits if b not in self._refs)
        if new_blocks + reusable > self.free:
            raise MemoryError
        for block in hits:
            self._hold(block)
        return hits + [self._fresh() for _ in range(new_blocks)]

    def grow(self, blocks: list[int], count: int) -> bool:
        """Add ``count`` fresh blocks to a request's ``blocks``; False if they do not fit."""
        if count > self.free:
            return False
        blocks.extend(self._fresh() for _ in range(count))
        return True

    def commit(self, blocks: Sequence[int], hashes: Sequence[BlockHash]) -> None:
        """Register the hashes of a request's prompt blocks once they are computed."""
        if not self.prefix_caching:
            return
        for block, h in zip(blocks, hashes, strict=False):
            if block in self._hash_of or h in self._by_hash:
                continue
            self._hash_of[block] = h
            self._by_hash[h] = block

    def release(self, blocks: Sequence[int]) -> None:
        """A request lets go of its blocks; prefix blocks stay cached, the rest are free.

        Freed in reverse, as vLLM does, so a prompt's tail is evicted before its head.
        """
        for block in reversed(blocks):
            refs = self._refs[block] - 1
            if refs:
                self._refs[block] = refs
                continue
            del self._refs[block]
            if block in self._hash_of:
                self._cached[block] = None
            else:
                self._never_used.append(block)

    def _hold(self, block: int) -> None:
        refs = self._refs.get(block, 0)
        if refs == 0:
            self._cached.pop(block, None)
        self._refs[block] = refs + 1

    def _fresh(self) -> int:
        if self._never_used:
            block = self._never_used.pop()
        else:
            block, _ = self._cached.popitem(last=False)  # evict the least recently freed
            del self._by_hash[self._hash_of.pop(block)]
        self._refs[block] = 1
        return block
