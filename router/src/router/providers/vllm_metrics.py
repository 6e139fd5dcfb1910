"""Reading a vLLM server's load from its Prometheus ``/metrics`` text.

Parsed with the Prometheus client library's own text parser, matching samples by name
(and ``model_name`` where several models share a server): requests running and waiting,
the KV cache's usage - ``vllm:kv_cache_usage_perc`` (vLLM 0.11) or, from older
servers, ``vllm:gpu_cache_usage_perc`` - and its size (``vllm:cache_config_info``'s
``num_gpu_blocks`` x ``block_size`` labels). Only those families' lines reach the parser: a
page is mostly histograms, the parser's time grows with every line it reads, and it
runs on the router's event loop for every engine at every scrape.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from router.providers.base import EngineLoad

RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
KV_USAGE = "vllm:kv_cache_usage_perc"
KV_USAGE_BEFORE_0_11 = "vllm:gpu_cache_usage_perc"
CACHE_CONFIG = "vllm:cache_config_info"
_WANTED = frozenset({RUNNING, WAITING, KV_USAGE, KV_USAGE_BEFORE_0_11, CACHE_CONFIG})


def _wanted_lines(text: str) -> str:
    """The samples, HELP and TYPE lines of the wanted families (all gauges: a sample's
    name is its family's)."""
    kept = []
    for line in text.splitlines():
        if line.startswith("#"):
            words = line.split(maxsplit=3)
            name = words[2] if len(words) > 2 else ""
        else:
            name = line.partition("{")[0].partition(" ")[0]
        if name in _WANTED:
            kept.append(line)
    return "\n".join(kept) + "\n"


def parse_load(text: str, model: str) -> EngineLoad | None:
    """The load ``text`` reports for ``model`` (summed over its engines); None when the
    text has no running and waiting gauges for it."""
    found: dict[str, float] = {}
    cache_tokens: int | None = None
    for family in text_string_to_metric_families(_wanted_lines(text)):
        if family.name not in _WANTED:
            continue
        if family.name == CACHE_CONFIG:
            cache_tokens = next(filter(None, map(_cache_tokens, family.samples)), None)
            continue
        for sample in family.samples:
            served = sample.labels.get("model_name")
            if served is not None and served != model:
                continue
            if family.name in (KV_USAGE, KV_USAGE_BEFORE_0_11):
                found[family.name] = max(found.get(family.name, 0.0), sample.value)
            else:
                found[family.name] = found.get(family.name, 0.0) + sample.value
    if RUNNING not in found or WAITING not in found:
        return None
    kv = found.get(KV_USAGE, found.get(KV_USAGE_BEFORE_0_11, 0.0))
    return EngineLoad(
        running=int(found[RUNNING]),
        waiting=int(found[WAITING]),
        kv_usage=kv,
        cache_tokens=cache_tokens,
    )


def _cache_tokens(sample: Sample) -> int | None:
    """The KV cache's size in tokens, from one ``cache_config_info`` sample's labels
    (None before the engine has sized its cache, when ``num_gpu_blocks`` reads None)."""
    try:
        size = int(sample.labels["num_gpu_blocks"]) * int(sample.labels["block_size"])
    except (KeyError, ValueError):
        return None
    return size if size > 0 else None
