"""The DSL's builtin library: pure functions with a type rule and a Python implementation.

Each builtin declares how many positional arguments it takes, which keywords it accepts, whether
it takes a `key=` lambda, a type rule (argument types -> result type, or `BuiltinTypeError` with a
message for the user) and its implementation (used by constant folding and the reference
interpreter). All builtins are pure and deterministic; none can reach the browser or the host.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agentjit.ir.types import (
    ANY,
    BOOL,
    FLOAT,
    INT,
    NUMERIC,
    STR,
    DictType,
    ListType,
    Type,
    is_assignable,
    join,
)


class BuiltinTypeError(Exception):
    """A builtin was applied to arguments of the wrong type; the message is for the user."""


TypeRule = Callable[[Sequence[Type], dict[str, Type]], Type]


@dataclass(frozen=True)
class Builtin:
    name: str
    min_args: int
    max_args: int
    type_rule: TypeRule
    impl: Callable[..., Any]
    keywords: tuple[str, ...] = ()
    takes_key: bool = False
    doc: str = ""


def elem_type(t: Type, what: str) -> Type:
    """The element type of a list (or `any`); raises for anything that is not iterable."""
    if isinstance(t, ListType):
        return t.elem
    if t == ANY:
        return ANY
    if t == STR:
        return STR
    raise BuiltinTypeError(f"{what} expects a list, got {t}")


def _expect(t: Type, want: Type, what: str) -> None:
    if not is_assignable(t, want):
        raise BuiltinTypeError(f"{what} expects {want}, got {t}")


def _sized(args: Sequence[Type], kw: dict[str, Type]) -> Type:
    if not (isinstance(args[0], ListType | DictType) or args[0] in (STR, ANY)):
        raise BuiltinTypeError(f"len() expects a list, dict or str, got {args[0]}")
    return INT


def _extremum(args: Sequence[Type], kw: dict[str, Type]) -> Type:
    if len(args) == 1:
        return elem_type(args[0], "min()/max() with one argument")
    out = args[0]
    for t in args[1:]:
        out = join(out, t)
    return out


def _sum(args: Sequence[Type], kw: dict[str, Type]) -> Type:
    elem = elem_type(args[0], "sum()")
    if elem not in (*NUMERIC, ANY):
        raise BuiltinTypeError(f"sum() expects a list of numbers, got list<{elem}>")
    return elem


def _same_list(args: Sequence[Type], kw: dict[str, Type]) -> Type:
    elem_type(args[0], "sorted()")
    if "reverse" in kw:
        _expect(kw["reverse"], BOOL, "sorted(reverse=...)")
    return args[0] if isinstance(args[0], ListType) else ListType(ANY)


def _bool_of_list(args: Sequence[Type], kw: dict[str, Type]) -> Type:
    elem_type(args[0], "any()/all()")
    return BOOL


def _range(args: Sequence[Type], kw: dict[str, Type]) -> Type:
    for t in args:
        _expect(t, INT, "range()")
    return ListType(INT)


def _const(result: Type, *params: Type) -> TypeRule:
    def rule(args: Sequence[Type], kw: dict[str, Type]) -> Type:
        for i, (t, want) in enumerate(zip(args, params, strict=False)):
            _expect(t, want, f"argument {i + 1}")
        return result

    return rule


def _contains(args: Sequence[Type], kw: dict[str, Type]) -> Type:
    if not (isinstance(args[0], ListType | DictType) or args[0] in (STR, ANY)):
        raise BuiltinTypeError(f"contains() expects a str, list or dict first, got {args[0]}")
    return BOOL


def _numeric(args: Sequence[Type], kw: dict[str, Type]) -> Type:
    if args[0] not in (*NUMERIC, ANY):
        raise BuiltinTypeError(f"expects a number, got {args[0]}")
    return args[0]


def _keys(args: Sequence[Type], kw: dict[str, Type]) -> Type:
    if not isinstance(args[0], DictType) and args[0] != ANY:
        raise BuiltinTypeError(f"keys() expects a dict, got {args[0]}")
    return ListType(STR)


def _values(args: Sequence[Type], kw: dict[str, Type]) -> Type:
    if isinstance(args[0], DictType):
        return ListType(args[0].value)
    if args[0] == ANY:
        return ListType(ANY)
    raise BuiltinTypeError(f"values() expects a dict, got {args[0]}")


def _join(args: Sequence[Type], kw: dict[str, Type]) -> Type:
    elem_type(args[0], "join()")
    return STR


def _contains_impl(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, str):
        return str(needle).lower() in haystack.lower()
    return needle in haystack


def _min(*args: Any, key: Any = None) -> Any:
    seq = args[0] if len(args) == 1 else args
    return min(seq, key=key) if key else min(seq)


def _max(*args: Any, key: Any = None) -> Any:
    seq = args[0] if len(args) == 1 else args
    return max(seq, key=key) if key else max(seq)


def _sorted(xs: Any, key: Any = None, reverse: bool = False) -> list[Any]:
    return sorted(xs, key=key, reverse=reverse)


def _format(template: str, **kwargs: Any) -> str:
    return fill_template(template, kwargs)


PLACEHOLDER = re.compile(r"\{\{|\}\}|\{\s*([A-Za-z_][A-Za-z_0-9]*)\s*\}")
"""The template syntax shared by `llm(...)` and `format(...)`: `{name}` is a placeholder,
`{{` and `}}` are literal braces, and anything else is plain text."""


def template_names(template: str) -> list[str]:
    """The `{name}` placeholders of a template, in order of first appearance."""
    names = (m.group(1) for m in PLACEHOLDER.finditer(template) if m.group(1))
    return list(dict.fromkeys(names))


def fill_template(template: str, values: dict[str, Any]) -> str:
    """Replace each `{name}` in `template` by `str(values[name])`; `{{`/`}}` are literal braces.

    Only plain names are substituted: no attribute access or format specs, so a template can
    never run code.
    """

    def substitute(m: re.Match[str]) -> str:
        return str(values[m.group(1)]) if m.group(1) else m.group(0)[0]

    return PLACEHOLDER.sub(substitute, template)


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in [
        Builtin("len", 1, 1, _sized, len, doc="len(x) -> int: items in a list, dict or str"),
        Builtin(
            "min",
            1,
            8,
            _extremum,
            _min,
            takes_key=True,
            doc="min(xs, key=lambda x: ...) or min(a, b, ...): the smallest",
        ),
        Builtin(
            "max",
            1,
            8,
            _extremum,
            _max,
            takes_key=True,
            doc="max(xs, key=lambda x: ...) or max(a, b, ...): the largest",
        ),
        Builtin("sum", 1, 1, _sum, sum, doc="sum(numbers) -> number"),
        Builtin(
            "sorted",
            1,
            1,
            _same_list,
            _sorted,
            keywords=("reverse",),
            takes_key=True,
            doc="sorted(xs, key=lambda x: ..., reverse=False) -> list",
        ),
        Builtin("any", 1, 1, _bool_of_list, any, doc="any(xs) -> bool: some item is truthy"),
        Builtin("all", 1, 1, _bool_of_list, all, doc="all(xs) -> bool: every item is truthy"),
        Builtin(
            "range",
            1,
            3,
            _range,
            lambda *a: list(range(*a)),
            doc="range(stop) / range(start, stop[, step]) -> list[int]",
        ),
        Builtin("str", 1, 1, _const(STR, ANY), str, doc="str(x) -> str"),
        Builtin("int", 1, 1, _const(INT, ANY), int, doc="int(x) -> int"),
        Builtin("float", 1, 1, _const(FLOAT, ANY), float, doc="float(x) -> float"),
        Builtin("bool", 1, 1, _const(BOOL, ANY), bool, doc="bool(x) -> bool"),
        Builtin("abs", 1, 1, _numeric, abs, doc="abs(number) -> number"),
        Builtin("round", 1, 2, _const(FLOAT, FLOAT, INT), round, doc="round(x, ndigits) -> float"),
        Builtin(
            "contains",
            2,
            2,
            _contains,
            _contains_impl,
            doc="contains(haystack, needle) -> bool: list/dict item, or substring (any case)",
        ),
        Builtin("lower", 1, 1, _const(STR, STR), str.lower, doc="lower(text) -> str"),
        Builtin("upper", 1, 1, _const(STR, STR), str.upper, doc="upper(text) -> str"),
        Builtin("strip", 1, 1, _const(STR, STR), str.strip, doc="strip(text) -> str"),
        Builtin(
            "split",
            1,
            2,
            _const(ListType(STR), STR, STR),
            str.split,
            doc="split(text, sep) -> list[str]",
        ),
        Builtin(
            "join",
            1,
            2,
            _join,
            lambda xs, sep="": sep.join(map(str, xs)),
            keywords=("sep",),
            doc='join(items, sep="") -> str',
        ),
        Builtin(
            "startswith",
            2,
            2,
            _const(BOOL, STR, STR),
            str.startswith,
            doc="startswith(text, prefix) -> bool",
        ),
        Builtin(
            "endswith",
            2,
            2,
            _const(BOOL, STR, STR),
            str.endswith,
            doc="endswith(text, suffix) -> bool",
        ),
        Builtin("keys", 1, 1, _keys, lambda d: list(d), doc="keys(d) -> list[str]"),
        Builtin("values", 1, 1, _values, lambda d: list(d.values()), doc="values(d) -> list"),
        Builtin(
            "format",
            1,
            1,
            _const(STR, STR),
            _format,
            keywords=("*",),
            doc='format("... {name} ...", name=value) -> str',
        ),
    ]
}
