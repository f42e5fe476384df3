"""The IR's types: DSL values, records returned by tools, and effect tokens.

Types are immutable, hashable values compared structurally. Their `str` is their textual IR form
(`str`, `list<int>`, `dict<float>`, `!Product`, `!tab`, `!res<shop.basket>`), which the IR parser
reads back. Records print by name; their fields are declared once at the top of a module's text.

Tokens are the heart of "effects as dataflow": a `TabToken` stands for the state of one browser
tab, a `ResourceToken` for one server-side resource. An op that touches a tab consumes the tab's
token and produces the next; the verifier checks that each token is consumed at most once.
"""

from __future__ import annotations

from dataclasses import dataclass


class Type:
    """Base of all IR types."""

    __slots__ = ()

    @property
    def is_token(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class PrimType(Type):
    """A scalar DSL type: str, int, float, bool, none, or any (the unknown/dynamic type)."""

    name: str

    def __str__(self) -> str:
        return self.name


STR = PrimType("str")
INT = PrimType("int")
FLOAT = PrimType("float")
BOOL = PrimType("bool")
NONE = PrimType("none")
ANY = PrimType("any")
PRIMS = {t.name: t for t in (STR, INT, FLOAT, BOOL, NONE, ANY)}


@dataclass(frozen=True, slots=True)
class ListType(Type):
    elem: Type

    def __str__(self) -> str:
        return f"list<{self.elem}>"


@dataclass(frozen=True, slots=True)
class DictType(Type):
    """A dict with string keys and values of one type (`any` for mixed values)."""

    value: Type

    def __str__(self) -> str:
        return f"dict<{self.value}>"


@dataclass(frozen=True, slots=True)
class RecordType(Type):
    """A named record with typed fields, as returned by tools (a dataclass on the Python side)."""

    name: str
    fields: tuple[tuple[str, Type], ...]

    def __str__(self) -> str:
        return f"!{self.name}"

    def field_type(self, name: str) -> Type | None:
        return next((t for n, t in self.fields if n == name), None)

    def declaration(self) -> str:
        """The module-level line that defines this record in textual IR."""
        body = ", ".join(f"{n}: {t}" for n, t in self.fields)
        return f"!{self.name} = record<{body}>"


@dataclass(frozen=True, slots=True)
class TabToken(Type):
    """The state of a browser tab, threaded through every op that reads or changes it."""

    def __str__(self) -> str:
        return "!tab"

    @property
    def is_token(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class ResourceToken(Type):
    """The state of a server-side resource (`site.resource`), threaded through its writes."""

    resource: str

    def __str__(self) -> str:
        return f"!res<{self.resource}>"

    @property
    def is_token(self) -> bool:
        return True


TAB = TabToken()
NUMERIC = (INT, FLOAT)


def is_assignable(src: Type, dst: Type) -> bool:
    """Whether a value of type `src` may be used where `dst` is expected.

    `any` is compatible both ways (the dynamic escape hatch), ints widen to floats, `none` is
    accepted only as `none`, and lists and dicts are covariant (DSL values are immutable).
    """
    if src == dst or ANY in (src, dst):
        return True
    if src == INT and dst == FLOAT:
        return True
    if isinstance(src, ListType) and isinstance(dst, ListType):
        return is_assignable(src.elem, dst.elem)
    if isinstance(src, DictType) and isinstance(dst, DictType):
        return is_assignable(src.value, dst.value)
    return False


def join(a: Type, b: Type) -> Type:
    """The least type both `a` and `b` are assignable to (`any` if there is no better one)."""
    if ANY in (a, b):
        return ANY
    if is_assignable(a, b) and b != ANY:
        return b
    if is_assignable(b, a) and a != ANY:
        return a
    if isinstance(a, ListType) and isinstance(b, ListType):
        return ListType(join(a.elem, b.elem))
    return ANY


def type_of_constant(value: object) -> Type:
    """The IR type of a literal Python value (str, int, float, bool, None, lists and dicts)."""
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, str):
        return STR
    if value is None:
        return NONE
    if isinstance(value, list | tuple):
        elem: Type | None = None
        for item in value:
            t = type_of_constant(item)
            elem = t if elem is None else join(elem, t)
        return ListType(elem or ANY)
    if isinstance(value, dict):
        vt: Type | None = None
        for item in value.values():
            t = type_of_constant(item)
            vt = t if vt is None else join(vt, t)
        return DictType(vt or ANY)
    raise TypeError(f"no IR type for constant {value!r}")
