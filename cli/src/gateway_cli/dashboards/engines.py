"""LLM gateway / vLLM engines: what the inference servers say about themselves.

Read from vLLM's own ``/metrics`` (``vllm:*``; the simulator serves the same names), so
the queue, the KV cache and the engine's latency show whether slowness is the gateway's
or the model's.
"""

from __future__ import annotations

from gateway_cli.dashboards.board import Board, Row, Variable
from gateway_cli.dashboards.panels import Query, timeseries_panel
from gateway_cli.dashboards.promql import max_, quantile, rate, series, sum_
from simulator.metrics import (
    E2E_LATENCY,
    GENERATION_TOKENS,
    KV_USAGE,
    KV_USAGE_BEFORE_0_11,
    PROMPT_TOKENS,
    REQUEST_SUCCESS,
    RUNNING,
    TTFT,
    WAITING,
)

MODEL = 'model_name=~"$model_name"'


def _queue() -> Row:
    return Row(
        "Queue",
        [
            timeseries_panel(
                "Requests running and waiting",
                "Per served model: in the engine's batches, and queued for a slot. A "
                "queue that grows means the fleet is too small for the load.",
                [
                    Query(sum_(series(RUNNING, MODEL), "model_name"), "running {{model_name}}"),
                    Query(sum_(series(WAITING, MODEL), "model_name"), "waiting {{model_name}}"),
                ],
                "none",
            ),
            timeseries_panel(
                "Requests finished/s by reason",
                "stop: the model ended its answer; length: it hit max_tokens; abort: the "
                "request was cancelled (a client that left).",
                [
                    Query(
                        sum_(
                            rate(series(f"{REQUEST_SUCCESS}_total", MODEL)),
                            "model_name, finished_reason",
                        ),
                        "{{model_name}} {{finished_reason}}",
                    )
                ],
                "reqps",
                stacked=True,
            ),
            timeseries_panel(
                "KV cache use per replica",
                "Share of each engine's KV cache in use (1: full; new requests then wait). "
                "One full while the others have room: the balancing keeps sending it work "
                "(prefix affinity), or its prompts are longer. vLLM before 0.11 names it "
                f"{KV_USAGE_BEFORE_0_11}, read where {KV_USAGE} is missing.",
                [
                    Query(
                        " or ".join(
                            max_(series(name, MODEL), "instance, model_name")
                            for name in (KV_USAGE, KV_USAGE_BEFORE_0_11)
                        ),
                        "{{instance}} {{model_name}}",
                    )
                ],
                "percentunit",
            ),
        ],
    )


def _engine_latency() -> Row:
    return Row(
        "Engine latency",
        [
            timeseries_panel(
                "Engine time to first token p50 / p95",
                "Inside the engine: queueing and prefill. Compare with the gateway's time "
                "to first token: the difference is the gateway's and the network's.",
                [
                    Query(
                        quantile(q, TTFT, (MODEL,), "model_name"),
                        f"p{round(q * 100)} {{{{model_name}}}}",
                    )
                    for q in (0.5, 0.95)
                ],
                "s",
            ),
            timeseries_panel(
                "Engine request latency p50 / p95",
                "Inside the engine, from arrival to the last token.",
                [
                    Query(
                        quantile(q, E2E_LATENCY, (MODEL,), "model_name"),
                        f"p{round(q * 100)} {{{{model_name}}}}",
                    )
                    for q in (0.5, 0.95)
                ],
                "s",
            ),
        ],
    )


def _tokens() -> Row:
    return Row(
        "Tokens",
        [
            timeseries_panel(
                "Prompt tokens/s",
                "Prefill throughput per served model.",
                [
                    Query(
                        sum_(rate(series(f"{PROMPT_TOKENS}_total", MODEL)), "model_name"),
                        "{{model_name}}",
                    )
                ],
                "short",
                stacked=True,
            ),
            timeseries_panel(
                "Generation tokens/s",
                "Decode throughput per served model: the output tokens the fleet produces.",
                [
                    Query(
                        sum_(rate(series(f"{GENERATION_TOKENS}_total", MODEL)), "model_name"),
                        "{{model_name}}",
                    )
                ],
                "short",
                stacked=True,
            ),
        ],
    )


def board() -> Board:
    return Board(
        uid="gateway-engines",
        title="LLM gateway / vLLM engines",
        description="The inference servers' own metrics (vllm:*): queue, KV cache, engine "
        "latency and token throughput per served model.",
        variables=[Variable("model_name", "Served model", RUNNING)],
        rows=[_queue(), _engine_latency(), _tokens()],
    )
