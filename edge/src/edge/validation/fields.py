"""Checks of one field's type and range, answered the way OpenAI's API answers them.

Each check is a function of the field's path (``messages[0].role``) and its value that
raises a 400 :class:`GatewayError` naming the field, with OpenAI's code and wording
(``invalid_type``, ``decimal_above_max_value``, ``integer_below_min_value``,
``empty_array``, ``array_above_max_length``, ``string_above_max_length``,
``invalid_value``, ``missing_required_parameter``). ``null`` passes wherever OpenAI
accepts it (optional fields), except where a check says ``nullable=False``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gateway_shared.errors import GatewayError

Check = Callable[[str, Any], None]


def bad(message: str, param: str | None, code: str | None) -> GatewayError:
    return GatewayError(message, status=400, param=param, code=code)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def kind_of(value: Any) -> str:
    """OpenAI's words for a JSON value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def wrong_type(param: str, expected: str, value: Any) -> GatewayError:
    return bad(
        f"Invalid type for '{param}': expected {expected}, but got {kind_of(value)} instead.",
        param,
        "invalid_type",
    )


def missing(param: str) -> GatewayError:
    return bad(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def _quoted(values: Iterable[str]) -> str:
    items = [f"'{v}'" for v in values]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + ", and " + items[-1]


def not_one_of(param: str, value: Any, allowed: Iterable[str]) -> GatewayError:
    return bad(
        f"Invalid value: '{value}'. Supported values are: {_quoted(allowed)}.",
        param,
        "invalid_value",
    )


def _range(param: str, value: float, low: float | None, high: float | None, kind: str) -> None:
    if high is not None and value > high:
        raise bad(
            f"Invalid '{param}': {kind} above maximum value. Expected a value <= {high:g}, "
            f"but got {value:g} instead.",
            param,
            f"{kind}_above_max_value",
        )
    if low is not None and value < low:
        raise bad(
            f"Invalid '{param}': {kind} below minimum value. Expected a value >= {low:g}, "
            f"but got {value:g} instead.",
            param,
            f"{kind}_below_min_value",
        )


def _numeric(
    kind: str, expected: str, accepts: Callable[[Any], bool], low: float | None, high: float | None
) -> Check:
    def check(param: str, value: Any) -> None:
        if value is None:
            return
        if not accepts(value):
            raise wrong_type(param, expected, value)
        _range(param, value, low, high, kind)

    return check


def number(low: float | None = None, high: float | None = None) -> Check:
    return _numeric("decimal", "a decimal", is_number, low, high)


def integer(low: int | None = None, high: int | None = None) -> Check:
    return _numeric("integer", "an integer", is_int, low, high)


def boolean(*, nullable: bool = True) -> Check:
    def check(param: str, value: Any) -> None:
        if value is None and nullable:
            return
        if not isinstance(value, bool):
            raise wrong_type(param, "a boolean", value)

    return check


def string(
    *, nullable: bool = True, max_length: int | None = None, one_of: tuple[str, ...] = ()
) -> Check:
    def check(param: str, value: Any) -> None:
        if value is None and nullable:
            return
        if not isinstance(value, str):
            raise wrong_type(param, "a string", value)
        if one_of and value not in one_of:
            raise not_one_of(param, value, one_of)
        if max_length is not None and len(value) > max_length:
            raise bad(
                f"Invalid '{param}': string too long. Expected a string with maximum length "
                f"{max_length}, but got a string with length {len(value)} instead.",
                param,
                "string_above_max_length",
            )

    return check


def array_length(
    param: str, value: list[Any], max_items: int | None, *, may_be_empty: bool = False
) -> None:
    if not value and not may_be_empty:
        raise bad(
            f"Invalid '{param}': empty array. Expected an array with minimum length 1, but "
            "got an empty array instead.",
            param,
            "empty_array",
        )
    if max_items is not None and len(value) > max_items:
        raise bad(
            f"Invalid '{param}': array too long. Expected an array with maximum length "
            f"{max_items}, but got an array with length {len(value)} instead.",
            param,
            "array_above_max_length",
        )


def obj(fields: Mapping[str, Check] | None = None, *, required: tuple[str, ...] = ()) -> Check:
    """An object; the ``fields`` named are checked, the rest pass through."""

    def check(param: str, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            raise wrong_type(param, "an object", value)
        check_fields(value, fields or {}, required, prefix=f"{param}.")

    return check


def array(
    item: Check | None = None, *, max_items: int | None = None, may_be_empty: bool = False
) -> Check:
    """``may_be_empty`` where the imitated API takes ``[]`` (Responses' ``tools``, which the
    Agents SDK sends for an agent without tools), unlike Chat Completions' ``tools``."""

    def check(param: str, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            raise wrong_type(param, "an array", value)
        array_length(param, value, max_items, may_be_empty=may_be_empty)
        if item is not None:
            for i, element in enumerate(value):
                item(f"{param}[{i}]", element)

    return check


def string_or_strings(max_items: int) -> Check:
    """``stop``: a string, or an array of them."""

    def check(param: str, value: Any) -> None:
        if value is None or isinstance(value, str):
            return
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise wrong_type(param, "one of a string or array of strings", value)
        array_length(param, value, max_items)

    return check


def check_fields(
    body: Mapping[str, Any],
    fields: Mapping[str, Check],
    required: tuple[str, ...] = (),
    *,
    prefix: str = "",
) -> None:
    for name in required:
        if name not in body:
            raise missing(prefix + name)
    for name, check in fields.items():
        if name in body:
            check(prefix + name, body[name])
