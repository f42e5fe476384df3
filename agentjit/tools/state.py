"""A site's abstract page state, and the patterns tool contracts are written in.

    State(page=Enum("home", "category", "product"), basket=Enum("empty", "full"),
          product=Text())

An `Enum` field takes one of finitely many values; a `Text` field holds a value the program
computed (which product is open, say), compared by the checker through value numbering. Patterns:

    "category"            the field equals this value
    {"category", "search"} one of these values
    ANY                   no requirement (in `requires`), or "may change to anything" (`ensures`)
    "$title"              equals the tool's argument `title`
    "$result"             (ensures only) equals the tool's output
    UNKNOWN               (ensures only) the field is no longer known

Contracts are validated when the tool is declared, so a typo in a site fails at import with a
message naming the tool and field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


ANY: Any = _Marker("ANY")
UNKNOWN: Any = _Marker("UNKNOWN")


@dataclass(frozen=True)
class Enum:
    """A field with finitely many values."""

    values: tuple[Any, ...]

    def __init__(self, *values: Any) -> None:
        object.__setattr__(self, "values", tuple(values))

    def describe(self) -> str:
        return " | ".join(map(repr, self.values))


@dataclass(frozen=True)
class Text:
    """A field holding a value the program computed (compared by value, statically)."""

    def describe(self) -> str:
        return "text"


FieldKind = Enum | Text


@dataclass(frozen=True)
class State:
    """The schema of a site's abstract state: field name -> kind."""

    fields: Mapping[str, FieldKind] = field(default_factory=dict)

    def __init__(self, **fields: FieldKind) -> None:
        object.__setattr__(self, "fields", dict(fields))

    def enum_fields(self) -> dict[str, Enum]:
        return {n: k for n, k in self.fields.items() if isinstance(k, Enum)}


Pattern = Any
"""A value, a frozenset of values, ANY, UNKNOWN, or a "$param" reference."""


def param_ref(pattern: Pattern) -> str | None:
    """The parameter a "$name" pattern refers to, else None."""
    if isinstance(pattern, str) and pattern.startswith("$"):
        return pattern[1:]
    return None


def allowed_values(pattern: Pattern) -> frozenset[Any] | None:
    """The concrete values a value/set pattern admits (None for ANY, UNKNOWN and $refs)."""
    if pattern is ANY or pattern is UNKNOWN or param_ref(pattern) is not None:
        return None
    if isinstance(pattern, set | frozenset | tuple | list):
        return frozenset(pattern)
    return frozenset([pattern])


def matches(pattern: Pattern, value: Any) -> bool:
    """Whether a known `value` satisfies a value/set pattern (ANY, UNKNOWN and $refs admit
    anything; an UNKNOWN value satisfies no concrete pattern)."""
    values = allowed_values(pattern)
    return values is None or (value is not UNKNOWN and value in values)


def same_value(a: Any, b: Any) -> bool:
    """Equality that does not let True stand for 1 (a flag is not an id)."""
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    try:
        return bool(a == b)
    except Exception:
        return False


def describe_pattern(pattern: Pattern) -> str:
    ref = param_ref(pattern)
    if ref is not None:
        return f"the argument '{ref}'"
    values = allowed_values(pattern)
    if values is None:
        return repr(pattern)
    shown = sorted(map(repr, values))
    return shown[0] if len(shown) == 1 else "one of " + ", ".join(shown)


@dataclass(frozen=True)
class Contract:
    """What a tool needs of the page state, what it leaves, and where its arguments come from."""

    requires: Mapping[str, Pattern] = field(default_factory=dict)
    ensures: Mapping[str, Pattern] = field(default_factory=dict)
    requires_called: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Argument name -> tools one of which must have produced the argument's value."""


def validate_contract(tool: str, state: State, contract: Contract, params: set[str]) -> None:
    """Raise ValueError naming the tool and field when the contract does not fit the schema."""
    for where, patterns in (("requires", contract.requires), ("ensures", contract.ensures)):
        for name, pattern in patterns.items():
            kind = state.fields.get(name)
            if kind is None:
                known = ", ".join(state.fields) or "none"
                raise ValueError(f"{tool}: {where} names unknown state field '{name}' ({known})")
            _validate_pattern(f"{tool}: {where}[{name!r}]", kind, pattern, params, where)
    for arg, producers in contract.requires_called.items():
        if arg not in params:
            raise ValueError(f"{tool}: requires_called names unknown parameter '{arg}'")
        if not producers:
            raise ValueError(f"{tool}: requires_called['{arg}'] names no tool")


def _validate_pattern(
    what: str, kind: FieldKind, pattern: Pattern, params: set[str], where: str
) -> None:
    ref = param_ref(pattern)
    if ref is not None:
        if ref == "result" and where == "ensures":
            return
        if ref not in params:
            raise ValueError(f"{what}: '${ref}' is not a parameter")
        return
    if pattern is UNKNOWN and where == "requires":
        raise ValueError(f"{what}: UNKNOWN is only meaningful in ensures")
    values = allowed_values(pattern)
    if values is None:
        return
    if isinstance(kind, Text):
        raise ValueError(f"{what}: a Text field takes '$param', ANY or UNKNOWN, not values")
    bad = [v for v in values if v not in kind.values]
    if bad:
        raise ValueError(f"{what}: {bad[0]!r} is not one of {kind.describe()}")
