"""Field types checked the way pydantic 2.11 checks them in lax mode, errors included.

vLLM's request models are pydantic models validated from the parsed JSON body, so a
field accepts what pydantic's lax mode accepts and rejects the rest with pydantic's own
error. Each type here holds one field's rule:

- ``Float``: numbers, booleans and numeric strings (``"0.5"``, ``" 1e3 "``, ``"inf"``).
- ``Int``: integers, booleans, integral floats (``2.0``, not ``1.5``) and integer strings
  (``"2"``, ``"2.0"``); optional ``ge``/``le`` bounds.
- ``Bool``: booleans, ``0``/``1`` (and ``0.0``/``1.0``), and the strings ``true``/``false``,
  ``yes``/``no``, ``on``/``off``, ``t``/``f``, ``y``/``n``, ``1``/``0`` in any case.
- ``Str``: strings only (pydantic does not turn numbers into strings).
- ``Literal``, ``ListOf``, ``DictOf``, ``Model`` (a nested object with its own fields),
  ``Union`` (each member tried in turn; when all fail, every member's errors are listed
  under the member's label, as pydantic labels them).

``validate(value, loc, errors)`` returns the value as pydantic would hand it over and
appends pydantic-shaped error dicts (``type``, ``loc``, ``msg``, ``input``, ``ctx``) to
``errors``; ``repr`` of that list is what vLLM answers. A type with ``nullable=True`` is an
``Optional[...]`` field: ``null`` passes. The common cases (a value already of the right
JSON type) return at the first check: this runs on every simulated request.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

Loc = tuple[str | int, ...]
Errors = list[dict[str, Any]]

# pydantic's lax-mode string spellings of booleans (compared case-insensitively).
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
_I64 = 2**63


class Invalid:
    """The value of a field that failed (never handed on)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = Invalid()


def error(
    kind: str, loc: Loc, msg: str, value: Any, ctx: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One entry of pydantic's ``errors()``, keys in pydantic's order (no ``url``)."""
    entry: dict[str, Any] = {"type": kind, "loc": loc, "msg": msg, "input": value}
    if ctx is not None:
        entry["ctx"] = ctx
    return entry


def missing(loc: Loc, container: Any) -> dict[str, Any]:
    return error("missing", loc, "Field required", container)


def expected_literals(values: Iterable[Any]) -> str:
    """pydantic's wording: ``'a'``, ``'a' or 'b'``, ``'a', 'b' or 'c'``."""
    items = [repr(v) for v in values]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


class Type:
    """A field type. ``label`` is how pydantic names it as a member of a union;
    ``exact`` holds the classes of values it hands on as they are, with no check."""

    __slots__ = ("exact", "label", "nullable")

    def __init__(
        self, label: str, *, nullable: bool = False, exact: frozenset[type] = frozenset()
    ) -> None:
        self.label = label
        self.nullable = nullable
        self.exact = exact

    def validate(self, value: Any, loc: Loc, errors: Errors) -> Any:
        if value is None and self.nullable:
            return None
        return self.check(value, loc, errors)

    def check(self, value: Any, loc: Loc, errors: Errors) -> Any:
        raise NotImplementedError


class AnyValue(Type):
    def __init__(self, *, nullable: bool = False) -> None:
        super().__init__("any", nullable=nullable)

    def check(self, value: Any, loc: Loc, errors: Errors) -> Any:
        return value


class Float(Type):
    def __init__(self, *, nullable: bool = False) -> None:
        super().__init__("float", nullable=nullable, exact=frozenset({float}))

    def check(self, value: Any, loc: Loc, errors: Errors) -> Any:
        cls = value.__class__
        if cls is float:
            return value
        if cls is int or cls is bool:
            try:
                return float(value)
            except OverflowError:
                pass
        elif cls is str:
            text = value.strip()
            if text.isascii():
                try:
                    return float(text)
                except ValueError:
                    pass
            errors.append(
                error(
                    "float_parsing",
                    loc,
                    "Input should be a valid number, unable to parse string as a number",
                    value,
                )
            )
            return INVALID
        errors.append(error("float_type", loc, "Input should be a valid number", value))
        return INVALID


def _int_from_str(value: str) -> int | None:
    text = value.strip()
    head, dot, tail = text.partition(".")
    if dot:
        # "2.0" and "2.00" are integers to pydantic; "2." and "2.5" are not.
        if not tail or tail.strip("0"):
            return None
        text = head
    if not text.isascii():
        return None
    try:
        return int(text)
    except ValueError:
        return None


class Int(Type):
    __slots__ = ("ge", "le")

    def __init__(
        self, *, nullable: bool = False, ge: int | None = None, le: int | None = None
    ) -> None:
        exact = frozenset({int}) if ge is None and le is None else frozenset()
        super().__init__("int", nullable=nullable, exact=exact)
        self.ge = ge
        self.le = le

    def check(self, value: Any, loc: Loc, errors: Errors) -> Any:
        cls = value.__class__
        number: int
        if cls is int:
            number = value
        elif cls is bool:
            number = int(value)
        elif cls is float:
            if not math.isfinite(value):
                errors.append(error("finite_number", loc, "Input should be a finite number", value))
                return INVALID
            if not value.is_integer():
                errors.append(
                    error(
                        "int_from_float",
                        loc,
                        "Input should be a valid integer, got a number with a fractional part",
                        value,
                    )
                )
                return INVALID
            if not -_I64 <= value <= _I64:
                errors.append(
                    error(
                        "int_parsing_size",
                        loc,
                        "Unable to parse input string as an integer, exceeded maximum size",
                        value,
                    )
                )
                return INVALID
            number = int(value)
        elif cls is str:
            parsed = _int_from_str(value)
            if parsed is None:
                errors.append(
                    error(
                        "int_parsing",
                        loc,
                        "Input should be a valid integer, unable to parse string as an integer",
                        value,
                    )
                )
                return INVALID
            number = parsed
        else:
            errors.append(error("int_type", loc, "Input should be a valid integer", value))
            return INVALID
        if self.ge is not None and number < self.ge:
            errors.append(
                error(
                    "greater_than_equal",
                    loc,
                    f"Input should be greater than or equal to {self.ge}",
                    value,
                    {"ge": self.ge},
                )
            )
            return INVALID
        if self.le is not None and number > self.le:
            errors.append(
                error(
                    "less_than_equal",
                    loc,
                    f"Input should be less than or equal to {self.le}",
                    value,
                    {"le": self.le},
                )
            )
            return INVALID
        return number


class Bool(Type):
    def __init__(self, *, nullable: bool = False) -> None:
        super().__init__("bool", nullable=nullable, exact=frozenset({bool}))

    def check(self, value: Any, loc: Loc, errors: Errors) -> Any:
        cls = value.__class__
        if cls is bool:
            return value
        if cls is int or cls is float:
            if value in (0, 1):
                return value == 1
            if -_I64 <= value < _I64 and (cls is int or value.is_integer()):
                errors.append(_bool_parsing(loc, value))
                return INVALID
        elif cls is str:
            lowered = value.lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            errors.append(_bool_parsing(loc, value))
            return INVALID
        errors.append(error("bool_type", loc, "Input should be a valid boolean", value))
        return INVALID


def _bool_parsing(loc: Loc, value: Any) -> dict[str, Any]:
    return error(
        "bool_parsing", loc, "Input should be a valid boolean, unable to interpret input", value
    )


class Str(Type):
    def __init__(self, *, nullable: bool = False) -> None:
        super().__init__("str", nullable=nullable, exact=frozenset({str}))

    def check(self, value: Any, loc: Loc, errors: Errors) -> Any:
        if value.__class__ is str:
            return value
        errors.append(error("string_type", loc, "Input should be a valid string", value))
        return INVALID


class Bytes(Type):
    """``bytes`` from JSON: a string (pydantic encodes it)."""

    def __init__(self, *, nullable: bool = False) -> None:
        super().__init__("bytes", nullable=nullable)

    def check(self, value: Any, loc: Loc, errors: Errors) -> Any:
        if value.__class__ is str:
            return value
        errors.append(error("bytes_type", loc, "Input should be a valid bytes", value))
        return INVALID


class Literal(Type):
    __slots__ = ("expected", "values")

    def __init__(self, *values: str, nullable: bool = False) -> None:
        super().__init__(f"literal[{', '.join(repr(v) for v in values)}]", nullable=nullable)
        self.values = frozenset(values)
        self.expected = expected_literals(values)

    def check(self, value: Any, loc: Loc, errors: Errors) -> Any:
        if value.__class__ is str and value in self.values:
            return value
        errors.append(
            error(
                "literal_error",
                loc,
                f"Input should be {self.expected}",
                value,
                {"expected": self.expected},
            )
        )
        return INVALID


class ListOf(Type):
    __slots__ = ("item",)

    def __init__(self, item: Type, *, nullable: bool = False) -> None:
        super().__init__(f"list[{item.label}]", nullable=nullable)
        self.item = item

    def check(self, value: Any, loc: Loc, errors: Errors) -> Any:
        if value.__class__ is not list:
            errors.append(error("list_type", loc, "Input should be a valid list", value))
            return INVALID
        item = self.item
        if isinstance(item, AnyValue):
            return value
        before = len(errors)
        result = [item.validate(v, (*loc, i), errors) for i, v in enumerate(value)]
        return result if len(errors) == before else INVALID


class DictOf(Type):
    """``dict[str, V]`` (JSON object keys are always strings)."""

    __slots__ = ("value_type",)

    def __init__(self, value_type: Type, *, nullable: bool = False, label: str = "") -> None:
        super().__init__(label or f"dict[str,{value_type.label}]", nullable=nullable)
        self.value_type = value_type

    def check(self, value: Any, loc: Loc, errors: Errors) -> Any:
        if value.__class__ is not dict:
            errors.append(error("dict_type", loc, "Input should be a valid dictionary", value))
            return INVALID
        value_type = self.value_type
        if isinstance(value_type, AnyValue):
            return value
        before = len(errors)
        result = {k: value_type.validate(v, (*loc, k), errors) for k, v in value.items()}
        return result if len(errors) == before else INVALID


# How pydantic labels a vLLM model (OpenAIBaseModel) inside a union: by its wrap validator.
VLLM_MODEL = "function-wrap[__log_extra_fields__()]"


class Model(Type):
    """A nested model: an object whose listed fields are checked (and come back
    converted); others are kept (vLLM's ``extra="allow"``) unless ``forbid_extra``
    (pydantic's ``extra="forbid"``)."""

    __slots__ = ("fields", "forbid_extra")

    def __init__(
        self,
        label: str,
        fields: Sequence[tuple[str, Type, bool]],
        *,
        nullable: bool = False,
        forbid_extra: bool = False,
    ) -> None:
        super().__init__(label, nullable=nullable)
        self.fields = tuple(fields)
        self.forbid_extra = forbid_extra

    def check(self, value: Any, loc: Loc, errors: Errors) -> Any:
        if value.__class__ is not dict:
            errors.append(
                error(
                    "model_attributes_type",
                    loc,
                    "Input should be a valid dictionary or object to extract fields from",
                    value,
                )
            )
            return INVALID
        before = len(errors)
        result = value
        for name, kind, required in self.fields:
            if name in value:
                item = value[name]
                if item.__class__ in kind.exact or (item is None and kind.nullable):
                    continue
                converted = kind.check(item, (*loc, name), errors)
                if result is value:
                    result = dict(value)
                result[name] = converted
            elif required:
                errors.append(missing((*loc, name), value))
        if self.forbid_extra:
            known = {name for name, _, _ in self.fields}
            for key, item in value.items():
                if key not in known:
                    errors.append(
                        error(
                            "extra_forbidden", (*loc, key), "Extra inputs are not permitted", item
                        )
                    )
        return result if len(errors) == before else INVALID


class Union(Type):
    """The first member that accepts the value wins; when none does, pydantic lists every
    member's errors, each under ``loc + (member label,)``."""

    __slots__ = ("members",)

    def __init__(self, *members: Type, nullable: bool = False) -> None:
        super().__init__(f"union[{','.join(m.label for m in members)}]", nullable=nullable)
        self.members = members

    def check(self, value: Any, loc: Loc, errors: Errors) -> Any:
        collected: Errors = []
        for member in self.members:
            attempt: Errors = []
            result = member.validate(value, (*loc, member.label), attempt)
            if not attempt:
                return result
            collected.extend(attempt)
        errors.extend(collected)
        return INVALID
