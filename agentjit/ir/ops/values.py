"""Pure value ops: constants, containers, field and index access, operators, builtin calls.

Every op here is `Pure`. Operators are one class per operator (`dsl.add`, `dsl.lt`, ...), made
from a table so each carries its symbol, its Python semantics (`evaluate`, used by constant folding
and the reference interpreter) and its type rule (`infer`, used by the frontend and the verifier).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, ClassVar

from agentjit.ir.builtins import BUILTINS, BuiltinTypeError
from agentjit.ir.operation import ANY_VALUE, Operation, attr, operand, result, var_operand
from agentjit.ir.traits import Commutative, Pure
from agentjit.ir.types import (
    ANY,
    BOOL,
    FLOAT,
    INT,
    NUMERIC,
    STR,
    DictType,
    ListType,
    RecordType,
    Type,
    is_assignable,
    join,
    type_of_constant,
)


class ConstantOp(Operation):
    """A literal: str, int, float, bool, none, or a list/dict of literals."""

    name = "dsl.const"
    value = attr(str, int, float, bool, type(None), list, dict)
    out = result()
    traits = frozenset({Pure})

    def verify_(self) -> None:
        if not is_assignable(type_of_constant(self.value), self.out.type):
            raise ValueError(f"constant {self.value!r} does not have type {self.out.type}")


class CastOp(Operation):
    """The same value seen at a wider static type (`int` as `float`, anything as `any`)."""

    name = "dsl.cast"
    arg = operand()
    out = result()
    traits = frozenset({Pure})

    def verify_(self) -> None:
        if not is_assignable(self.arg.type, self.out.type):
            raise ValueError(f"cannot cast {self.arg.type} to {self.out.type}")


class UndefOp(Operation):
    """A placeholder that is never read, e.g. the item a filtered-out comprehension skips."""

    name = "dsl.undef"
    out = result()
    traits = frozenset({Pure})


class ListOp(Operation):
    """A list built from its operands, in order."""

    name = "dsl.list"
    items = var_operand(ANY_VALUE)
    out = result()
    traits = frozenset({Pure})

    def verify_(self) -> None:
        if not isinstance(self.out.type, ListType):
            raise ValueError(f"dsl.list must produce a list type, not {self.out.type}")
        for item in self.items:
            if not is_assignable(item.type, self.out.type.elem):
                raise ValueError(f"item of type {item.type} in a {self.out.type}")


class DictOp(Operation):
    """A dict from string keys (attribute `keys`) to the operands, pairwise."""

    name = "dsl.dict"
    keys = attr(list)
    items = var_operand(ANY_VALUE)
    out = result()
    traits = frozenset({Pure})

    def verify_(self) -> None:
        if len(self.keys) != len(self.items):
            raise ValueError(f"{len(self.keys)} keys but {len(self.items)} values")
        if not isinstance(self.out.type, DictType):
            raise ValueError(f"dsl.dict must produce a dict type, not {self.out.type}")


def field_type(obj: Type, field: str) -> Type:
    """The type of `obj.field`; raises BuiltinTypeError when the field does not exist."""
    if obj == ANY:
        return ANY
    if isinstance(obj, RecordType):
        t = obj.field_type(field)
        if t is None:
            fields = ", ".join(n for n, _ in obj.fields)
            raise BuiltinTypeError(f"{obj.name} has no field '{field}' (fields: {fields})")
        return t
    if isinstance(obj, DictType):
        return obj.value
    raise BuiltinTypeError(f"a value of type {obj} has no fields")


def item_type(container: Type, index: Type) -> Type:
    """The type of `container[index]`; raises BuiltinTypeError for a bad container or index."""
    if container == ANY:
        return ANY
    if isinstance(container, ListType) or container == STR:
        if not is_assignable(index, INT):
            raise BuiltinTypeError(f"{container} indices must be int, not {index}")
        return container.elem if isinstance(container, ListType) else STR
    if isinstance(container, DictType):
        if not is_assignable(index, STR):
            raise BuiltinTypeError(f"dict keys are str, not {index}")
        return container.value
    raise BuiltinTypeError(f"a value of type {container} cannot be indexed")


class GetAttrOp(Operation):
    """Field `field` of a record (or of a dict, by key)."""

    name = "dsl.getattr"
    obj = operand()
    field = attr(str)
    out = result()
    traits = frozenset({Pure})

    def verify_(self) -> None:
        _check_rule(field_type(self.obj.type, self.field), self.out.type)


class GetItemOp(Operation):
    """`container[index]` for lists, strings and dicts."""

    name = "dsl.getitem"
    container = operand()
    index = operand()
    out = result()
    traits = frozenset({Pure})

    def verify_(self) -> None:
        _check_rule(item_type(self.container.type, self.index.type), self.out.type)


def _check_rule(inferred: Type, declared: Type) -> None:
    if not is_assignable(inferred, declared):
        raise ValueError(f"result type {declared} does not match the inferred type {inferred}")


# ---- operators --------------------------------------------------------------------------------


def _arith(lhs: Type, rhs: Type, symbol: str) -> Type:
    if ANY in (lhs, rhs):
        return ANY
    if lhs in NUMERIC and rhs in NUMERIC:
        return FLOAT if symbol == "/" or FLOAT in (lhs, rhs) else INT
    if symbol == "+" and lhs == rhs == STR:
        return STR
    if symbol == "+" and isinstance(lhs, ListType) and isinstance(rhs, ListType):
        return ListType(join(lhs.elem, rhs.elem))
    if symbol == "*" and {lhs, rhs} == {STR, INT}:
        return STR
    raise BuiltinTypeError(f"unsupported operand types for {symbol}: {lhs} and {rhs}")


def _order(lhs: Type, rhs: Type, symbol: str) -> Type:
    ok = ANY in (lhs, rhs) or (lhs in NUMERIC and rhs in NUMERIC) or lhs == rhs == STR
    if not ok:
        raise BuiltinTypeError(f"cannot compare {lhs} {symbol} {rhs}")
    return BOOL


def _membership(lhs: Type, rhs: Type, symbol: str) -> Type:
    if not (isinstance(rhs, ListType | DictType) or rhs in (STR, ANY)):
        raise BuiltinTypeError(f"'{symbol}' needs a list, dict or str on the right, not {rhs}")
    return BOOL


class BinaryOp(Operation):
    """Base of the binary operator ops; subclasses fix `symbol`, `evaluate` and the type rule."""

    lhs = operand()
    rhs = operand()
    out = result()
    symbol: ClassVar[str]
    evaluate: ClassVar[Callable[[Any, Any], Any]]
    rule: ClassVar[Callable[[Type, Type, str], Type]]

    @classmethod
    def infer(cls, lhs: Type, rhs: Type) -> Type:
        return cls.rule(lhs, rhs, cls.symbol)

    def verify_(self) -> None:
        _check_rule(self.infer(self.lhs.type, self.rhs.type), self.out.type)


def _make_binary(
    symbol: str, opname: str, fn: Callable[[Any, Any], Any], rule: Callable, commutative: bool
) -> type[BinaryOp]:
    traits = frozenset({Pure, Commutative}) if commutative else frozenset({Pure})
    class_name = "".join(part.title() for part in opname.split("_")) + "Op"
    namespace = {
        "name": f"dsl.{opname}",
        "symbol": symbol,
        "evaluate": staticmethod(fn),
        "rule": staticmethod(rule),
        "traits": traits,
        "__doc__": f"`lhs {symbol} rhs`.",
        "__module__": __name__,
    }
    return type(class_name, (BinaryOp,), namespace)


def _equality(lhs: Type, rhs: Type, symbol: str) -> Type:
    return BOOL


def _logical(lhs: Type, rhs: Type, symbol: str) -> Type:
    return join(lhs, rhs)


_BINARY_TABLE: list[tuple[str, str, Callable[[Any, Any], Any], Callable, bool]] = [
    ("+", "add", operator.add, _arith, False),
    ("-", "sub", operator.sub, _arith, False),
    ("*", "mul", operator.mul, _arith, True),
    ("/", "div", operator.truediv, _arith, False),
    ("//", "floordiv", operator.floordiv, _arith, False),
    ("%", "mod", operator.mod, _arith, False),
    ("==", "eq", operator.eq, _equality, True),
    ("!=", "ne", operator.ne, _equality, True),
    ("<", "lt", operator.lt, _order, False),
    ("<=", "le", operator.le, _order, False),
    (">", "gt", operator.gt, _order, False),
    (">=", "ge", operator.ge, _order, False),
    ("in", "in", lambda a, b: a in b, _membership, False),
    ("not in", "not_in", lambda a, b: a not in b, _membership, False),
    ("and", "and", lambda a, b: a and b, _logical, False),
    ("or", "or", lambda a, b: a or b, _logical, False),
]

BINARY_OPS: dict[str, type[BinaryOp]] = {
    symbol: _make_binary(symbol, opname, fn, rule, comm)
    for symbol, opname, fn, rule, comm in _BINARY_TABLE
}
"""Operator symbol -> op class."""


class UnaryOp(Operation):
    """Base of `dsl.neg` and `dsl.not`."""

    arg = operand()
    out = result()
    symbol: ClassVar[str]
    evaluate: ClassVar[Callable[[Any], Any]]

    @classmethod
    def infer(cls, t: Type) -> Type:
        if cls.symbol == "not":
            return BOOL
        if t in (*NUMERIC, ANY):
            return t
        raise BuiltinTypeError(f"bad operand type for unary -: {t}")

    def verify_(self) -> None:
        _check_rule(self.infer(self.arg.type), self.out.type)


class NegOp(UnaryOp):
    """`-x`."""

    name = "dsl.neg"
    symbol = "-"
    evaluate = staticmethod(operator.neg)
    traits = frozenset({Pure})


class NotOp(UnaryOp):
    """`not x`."""

    name = "dsl.not"
    symbol = "not"
    evaluate = staticmethod(operator.not_)
    traits = frozenset({Pure})


UNARY_OPS: dict[str, type[UnaryOp]] = {"-": NegOp, "not": NotOp}


class BuiltinCallOp(Operation):
    """A call of a builtin function; keyword operands come last, named by `kwargs`.

    A `key=` lambda is a region whose block takes one item and yields the key.
    """

    name = "dsl.builtin"
    callee = attr(str)
    kwargs = attr(list)
    args = var_operand(ANY_VALUE)
    out = result()
    traits = frozenset({Pure})
    variadic_regions = True

    @property
    def positional(self) -> tuple:
        return self.args[: len(self.args) - len(self.kwargs)]

    @property
    def keyword(self) -> dict[str, Any]:
        values = self.args[len(self.args) - len(self.kwargs) :]
        return dict(zip(self.kwargs, values, strict=True))

    def verify_(self) -> None:
        spec = BUILTINS.get(self.callee)
        if spec is None:
            raise ValueError(f"unknown builtin {self.callee!r}")
        if len(self.kwargs) > len(self.args):
            raise ValueError("more keyword names than operands")
        if not spec.min_args <= len(self.positional) <= spec.max_args:
            raise ValueError(f"{self.callee}() takes {spec.min_args}..{spec.max_args} arguments")
        if len(self.regions) > (1 if spec.takes_key else 0):
            raise ValueError(f"{self.callee}() takes no key= lambda")
        for region in self.regions:
            if len(region.block.args) != 1:
                raise ValueError("a key= lambda takes exactly one argument")
