"""What vLLM v0.11.0 checks once a request has passed pydantic, in its order.

After the model check (404), for chat and completions:

1. the serving code's own refusals: a request ``chat_template`` (vLLM runs without
   ``--trust-request-chat-template``); completions' ``suffix``, and ``echo`` or
   ``prompt_logprobs`` with ``prompt_embeds``;
2. ``to_sampling_params``: deprecated ``guided_*`` fields that ask for several
   constraints, ``logits_processors`` (no ``--logits-processor-pattern``), ``logit_bias``
   keys that are not token ids;
3. ``SamplingParams.__post_init__`` and ``_verify_args`` (ranges: ``n >= 1``,
   penalties in [-2, 2], ``temperature >= 0``, ``top_p`` in (0, 1], ``top_k >= -1``,
   ``min_p`` in [0, 1], ``max_tokens >= 1``, ``min_tokens``, ``best_of``, no empty stop
   string, ``n == 1`` when greedy). The effective ``max_tokens`` is chat's
   ``max_completion_tokens or max_tokens`` (so ``max_completion_tokens: 0`` counts as
   unset) and completions' ``max_tokens`` (default 16; 1 when ``echo`` with 0);
4. the engine's checks (at most 20 logprobs, ``allowed_token_ids`` not empty, no
   ``best_of > 1``): a 400 for a whole answer, but a stream has already started, so vLLM
   sends them as an error event in a 200 stream.

Every failure is a 400 ``BadRequestError`` with vLLM's text. ``use_beam_search``
requests skip steps 3 and 4 (vLLM builds ``BeamSearchParams``, which checks nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator.validation.errors import VLLMError, bad_request, engine_error

MAX_LOGPROBS = 20  # vLLM's default --max-logprobs
_SAMPLING_EPS = 1e-5
_MAX_TEMP = 1e-2
# StructuredOutputsParams' arguments, and the request field each comes from.
_GUIDED_ARGS = ("json", "regex", "choice", "grammar", "whitespace_pattern", "structural_tag")
_CHAT_GUIDED: tuple[str | None, ...] = (
    "guided_json",
    "guided_regex",
    "guided_choice",
    "guided_grammar",
    "guided_whitespace_pattern",
    "structural_tag",
)
_GUIDED_FIELDS = frozenset(_CHAT_GUIDED) - {None}
# Completions have no structural_tag field: that argument stays None.
_COMPLETION_GUIDED: tuple[str | None, ...] = (*_CHAT_GUIDED[:-1], None)


# The fields of the serving code's own checks: most bodies hold none of them.
_CHAT_SERVING = frozenset(
    {"chat_template", "chat_template_kwargs", "use_beam_search", "logprobs", "prompt_logprobs",
     "echo"}
)  # fmt: skip
_COMPLETION_SERVING = frozenset(
    {"suffix", "prompt_embeds", "use_beam_search", "prompt_logprobs", "echo"}
)


def check_chat(values: dict[str, Any]) -> None:
    """Steps 1-4 for a chat completion (``values`` as pydantic validated them)."""
    logprobs = prompt_logprobs = None
    if not values.keys().isdisjoint(_CHAT_SERVING):
        template_kwargs = values.get("chat_template_kwargs")
        if values.get("chat_template") is not None or (
            template_kwargs and template_kwargs.get("chat_template") is not None
        ):
            raise bad_request(
                "Chat template is passed with request, but --trust-request-chat-template is "
                "not set. Refused request with untrusted chat template."
            )
        if values.get("use_beam_search"):
            return
        logprobs = values.get("top_logprobs", 0) if values.get("logprobs") else None
        prompt_logprobs = values.get("prompt_logprobs")
        if prompt_logprobs is None and values.get("echo"):
            prompt_logprobs = values.get("top_logprobs", 0)
    _check_generation(
        values,
        max_tokens=values.get("max_completion_tokens") or values.get("max_tokens"),
        logprobs=logprobs,
        prompt_logprobs=prompt_logprobs,
        guided=_CHAT_GUIDED,
    )


def check_completion(values: dict[str, Any]) -> None:
    """Steps 1-4 for a text completion."""
    max_tokens = values.get("max_tokens", 16)
    prompt_logprobs = None
    if not values.keys().isdisjoint(_COMPLETION_SERVING):
        embeds = values.get("prompt_embeds")
        if values.get("suffix") is not None:
            raise bad_request("suffix is not currently supported")
        if values.get("echo") and embeds is not None:
            raise bad_request("Echo is unsupported with prompt embeds.")
        if values.get("prompt_logprobs") is not None and embeds is not None:
            raise bad_request("prompt_logprobs is not compatible with prompt embeds.")
        if values.get("use_beam_search"):
            return
        if values.get("echo") and max_tokens == 0:
            max_tokens = 1  # echo without generation
        prompt_logprobs = values.get("prompt_logprobs")
        if prompt_logprobs is None and values.get("echo"):
            prompt_logprobs = values.get("logprobs")
    _check_generation(
        values,
        max_tokens=max_tokens,
        logprobs=values.get("logprobs"),
        prompt_logprobs=prompt_logprobs,
        guided=_COMPLETION_GUIDED,
    )


def _structured_outputs(values: dict[str, Any], fields: tuple[str | None, ...]) -> None:
    """``StructuredOutputsParams(**deprecated guided_* fields)`` and its ``__post_init__``."""
    if _GUIDED_FIELDS.isdisjoint(values) or values.get("structured_outputs") is not None:
        return
    constraints = sum(values.get(field) is not None for field in fields[:4] if field)
    if constraints < 2:
        return
    given = {
        name: values.get(field) if field else None
        for name, field in zip(_GUIDED_ARGS, fields, strict=True)
    }
    if constraints > 1:
        state = {
            **{k: given[k] for k in ("json", "regex", "choice", "grammar")},
            "json_object": None,
            "disable_fallback": False,
            "disable_any_whitespace": False,
            "disable_additional_properties": False,
            "whitespace_pattern": given["whitespace_pattern"],
            "structural_tag": given["structural_tag"],
            "_backend": None,
            "_backend_was_auto": False,
        }
        raise bad_request(
            "You can only use one kind of structured outputs constraint but multiple are "
            f"specified: {state}"
        )


def _check_generation(
    values: dict[str, Any],
    *,
    max_tokens: Any,
    logprobs: Any,
    prompt_logprobs: Any,
    guided: tuple[str | None, ...],
) -> None:
    _structured_outputs(values, guided)
    if values.get("logits_processors"):
        raise bad_request(
            "The `logits_processors` argument is not supported by this server. See "
            "--logits-processor-pattern engine argument for more information."
        )
    if (logit_bias := values.get("logit_bias")) is not None:
        for token in logit_bias:
            try:
                int(token)
            except ValueError as exc:
                raise bad_request(str(exc)) from None
    stream = bool(values.get("stream"))
    _verify_sampling_params(values, max_tokens, logprobs, prompt_logprobs, stream)
    _verify_engine(values, logprobs, prompt_logprobs, stream)


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


# _verify_args' range checks, in its order: the field, its default (in range), when vLLM
# refuses it (its own comparisons, so that NaN fares as it does there) and the message.
_RANGES: tuple[tuple[str, float, Callable[[float], bool], str], ...] = (
    ("presence_penalty", 0.0, lambda v: not -2.0 <= v <= 2.0, "must be in [-2, 2], got {}."),
    ("frequency_penalty", 0.0, lambda v: not -2.0 <= v <= 2.0, "must be in [-2, 2], got {}."),
    ("repetition_penalty", 1.0, lambda v: v <= 0.0, "must be greater than zero, got {}."),
    ("temperature", 1.0, lambda v: v < 0.0, "must be non-negative, got {}."),
    ("top_p", 1.0, lambda v: not 0.0 < v <= 1.0, "must be in (0, 1], got {}."),
    ("top_k", 0, lambda v: v < -1, "must be 0 (disable), or at least 1, got {}."),
    ("min_p", 0.0, lambda v: not 0.0 <= v <= 1.0, "must be in [0, 1], got {}."),
)


def _choices(values: dict[str, Any]) -> tuple[int, Any, Any]:
    """``(n, best_of, _real_n)`` after ``__post_init__`` and the first checks."""
    n = _or(values.get("n"), 1)
    best_of = values.get("best_of")
    real_n = None
    if best_of:
        if best_of < n:
            raise bad_request(
                f"best_of must be greater than or equal to n, got n={n} and best_of={best_of}."
            )
        real_n, n = n, best_of
    if n < 1:
        raise bad_request(f"n must be at least 1, got {n}.")
    if best_of is not None:
        if best_of < 1:
            raise bad_request(f"best_of must be at least 1, got {best_of}")
        if best_of < n:
            raise bad_request(
                f"best_of must be greater than or equal to n, got n={n} and best_of={best_of}."
            )
    return n, best_of, real_n


def _verify_lengths(max_tokens: Any, min_tokens: int, logprobs: Any, prompt_logprobs: Any) -> None:
    if max_tokens is not None and max_tokens < 1:
        raise bad_request(f"max_tokens must be at least 1, got {max_tokens}.")
    if min_tokens < 0:
        raise bad_request(f"min_tokens must be greater than or equal to 0, got {min_tokens}.")
    if max_tokens is not None and min_tokens > max_tokens:
        raise bad_request(
            f"min_tokens must be less than or equal to max_tokens={max_tokens}, got {min_tokens}."
        )
    if logprobs is not None and logprobs != -1 and logprobs < 0:
        raise bad_request(f"logprobs must be non-negative or -1, got {logprobs}.")
    if prompt_logprobs is not None and prompt_logprobs != -1 and prompt_logprobs < 0:
        raise bad_request(f"prompt_logprobs must be non-negative or -1, got {prompt_logprobs}.")


def _verify_sampling_params(
    values: dict[str, Any], max_tokens: Any, logprobs: Any, prompt_logprobs: Any, stream: bool
) -> None:
    """``SamplingParams.__post_init__``, ``_verify_args`` and the greedy check."""
    n, best_of, real_n = (1, None, None)
    if "n" in values or "best_of" in values:
        n, best_of, real_n = _choices(values)
    for name, _, refused, message in _RANGES:
        if name not in values or (value := values[name]) is None:
            continue  # the default is in range
        if name != "top_k":
            value = float(value)  # vLLM's messages print these as floats
        if refused(value):
            raise bad_request(f"{name} {message.format(value)}")
    min_tokens = values.get("min_tokens", 0)
    if max_tokens is not None or min_tokens or logprobs is not None or prompt_logprobs is not None:
        _verify_lengths(max_tokens, min_tokens, logprobs, prompt_logprobs)
    if (stop := values.get("stop")) is not None and (
        stop == "" or (isinstance(stop, list) and not all(stop))
    ):
        raise bad_request("stop cannot contain an empty string.")
    if best_of != real_n and stream:
        raise bad_request("best_of must equal n to use output_kind=DELTA")
    if n > 1:
        temperature = float(_or(values.get("temperature"), 1.0))
        if 0 < temperature < _MAX_TEMP:
            temperature = _MAX_TEMP  # vLLM raises it (with a warning): not greedy
        if temperature < _SAMPLING_EPS:
            raise bad_request(f"n must be 1 when using greedy sampling, got {n}.")


def _verify_engine(
    values: dict[str, Any], logprobs: Any, prompt_logprobs: Any, stream: bool
) -> None:
    """The engine's ``Processor._validate_params`` (only what needs no tokenizer)."""
    if not (logprobs or prompt_logprobs or "allowed_token_ids" in values or "best_of" in values):
        return
    problem: str | None = None
    if logprobs and logprobs != -1 and logprobs > MAX_LOGPROBS:
        problem = (
            f"Requested sample logprobs of {logprobs}, which is greater than max allowed: "
            f"{MAX_LOGPROBS}"
        )
    elif prompt_logprobs and prompt_logprobs != -1 and prompt_logprobs > MAX_LOGPROBS:
        problem = (
            f"Requested prompt logprobs of {prompt_logprobs}, which is greater than max "
            f"allowed: {MAX_LOGPROBS}"
        )
    elif values.get("allowed_token_ids") == []:
        problem = "allowed_token_ids is not None and empty!"
    elif (best_of := values.get("best_of")) is not None and best_of > 1:
        problem = "vLLM V1 does not yet support best_of."
    if problem is not None:
        raise engine_error(problem, stream=stream)


__all__ = ["MAX_LOGPROBS", "VLLMError", "check_chat", "check_completion"]
