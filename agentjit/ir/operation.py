"""Operations, declared as data.

An op class lists its operands, results, attributes and regions as class-level definitions in
order, plus its traits:

    class GetAttrOp(Operation):
        name = "dsl.getattr"
        obj = operand(ANY_VALUE)
        field = attr(str)
        out = result(ANY_VALUE)
        traits = frozenset({Pure})

From those definitions `Operation` derives named accessors (`op.obj`, `op.field`), the generic
checks the verifier runs (counts, type constraints, attribute kinds, region counts) and the
registry the IR parser uses to rebuild an op from its name. At most one operand group and one
result group may be variadic. Op-specific invariants go in `verify_`, which raises `ValueError`
with a plain-sentence message; the verifier adds the location and the surrounding IR.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from agentjit.ir.block import Block, Region, nested_ops, walk_ops
from agentjit.ir.location import UNKNOWN, Location
from agentjit.ir.traits import Trait
from agentjit.ir.types import Type
from agentjit.ir.value import OpResult, Use, Value

OP_REGISTRY: dict[str, type[Operation]] = {}
"""Op name -> op class, filled as op classes are defined (the textual IR parser reads it)."""


@dataclass(frozen=True)
class TypeConstraint:
    """A named predicate on types, shown in verifier messages as `expected <description>`."""

    description: str
    accepts: Callable[[Type], bool]


ANY_VALUE = TypeConstraint("a value", lambda t: not t.is_token)
ANY_TYPE = TypeConstraint("any type", lambda t: True)


@dataclass(frozen=True)
class _ValueGroupDef:
    """A named operand or result (or a variadic group of them) with a type constraint."""

    constraint: TypeConstraint
    variadic: bool = False
    name: str = ""
    defs_field: ClassVar[str]
    values_field: ClassVar[str]

    def __set_name__(self, owner: type, name: str) -> None:
        object.__setattr__(self, "name", name)

    layout: ClassVar[tuple[tuple[Any, ...], int, bool, int] | None] = None
    """(the group's defs, this def's position, whether a variadic def precedes it, how many of
    the defs are fixed), set when the op class is created: `__get__`'s arithmetic, precomputed."""

    def __get__(self, op: Operation | None, owner: type) -> Any:
        if op is None:
            return self
        values = getattr(op, self.values_field)
        layout = self.layout
        if layout is None or getattr(type(op), self.defs_field) is not layout[0]:
            start, stop = op.segment(getattr(type(op), self.defs_field), self, len(values))
            return values[start:stop] if self.variadic else values[start]
        _, pos, after_variadic, fixed = layout
        if self.variadic:
            return values[pos : pos + max(0, len(values) - fixed)]
        return values[pos - 1 + max(0, len(values) - fixed) if after_variadic else pos]

    def set_layout(self, defs: tuple[Any, ...]) -> None:
        pos = defs.index(self)
        after = any(d.variadic for d in defs[:pos])
        fixed = sum(1 for d in defs if not d.variadic)
        object.__setattr__(self, "layout", (defs, pos, after, fixed))


class OperandDef(_ValueGroupDef):
    defs_field = "operand_defs"
    values_field = "operands"


class ResultDef(_ValueGroupDef):
    defs_field = "result_defs"
    values_field = "results"


@dataclass(frozen=True)
class AttrDef:
    kinds: tuple[type, ...]
    optional: bool = False
    name: str = ""

    def __set_name__(self, owner: type, name: str) -> None:
        object.__setattr__(self, "name", name)

    def __get__(self, op: Operation | None, owner: type) -> Any:
        if op is None:
            return self
        return op.attributes.get(self.name)


@dataclass(frozen=True)
class RegionDef:
    name: str = ""

    def __set_name__(self, owner: type, name: str) -> None:
        object.__setattr__(self, "name", name)

    def __get__(self, op: Operation | None, owner: type) -> Any:
        if op is None:
            return self
        return op.regions[type(op).region_defs.index(self)]


def operand(constraint: TypeConstraint = ANY_VALUE) -> Any:
    return OperandDef(constraint)


def var_operand(constraint: TypeConstraint = ANY_TYPE) -> Any:
    return OperandDef(constraint, variadic=True)


def result(constraint: TypeConstraint = ANY_VALUE) -> Any:
    return ResultDef(constraint)


def var_result(constraint: TypeConstraint = ANY_TYPE) -> Any:
    return ResultDef(constraint, variadic=True)


def attr(*kinds: type, optional: bool = False) -> Any:
    return AttrDef(kinds, optional)


def region() -> Any:
    return RegionDef()


class Operation:
    """An op: operands, typed results, attributes, regions, a location and a parent block."""

    name: ClassVar[str] = ""
    traits: ClassVar[frozenset[type[Trait]]] = frozenset()
    operand_defs: ClassVar[tuple[OperandDef, ...]] = ()
    result_defs: ClassVar[tuple[ResultDef, ...]] = ()
    attr_defs: ClassVar[tuple[AttrDef, ...]] = ()
    region_defs: ClassVar[tuple[RegionDef, ...]] = ()
    variadic_regions: ClassVar[bool] = False
    """True for ops whose region count varies (a builtin call with or without a `key=`)."""

    __slots__ = ("_operands", "attributes", "loc", "parent", "regions", "results")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = list(vars(cls).values())
        for kind, field in (
            (OperandDef, "operand_defs"),
            (ResultDef, "result_defs"),
            (AttrDef, "attr_defs"),
            (RegionDef, "region_defs"),
        ):
            defs = tuple(d for d in own if isinstance(d, kind))
            if defs:
                setattr(cls, field, defs)
                for d in defs:
                    if isinstance(d, _ValueGroupDef):
                        d.set_layout(defs)
        if cls.name:
            if cls.name in OP_REGISTRY:
                raise ValueError(f"op name {cls.name!r} is defined twice")
            OP_REGISTRY[cls.name] = cls

    def __init__(
        self,
        operands: Sequence[Value] = (),
        result_types: Sequence[Type] = (),
        attributes: dict[str, Any] | None = None,
        regions: Sequence[Region] = (),
        loc: Location = UNKNOWN,
        result_names: Sequence[str | None] | None = None,
    ) -> None:
        self._operands: list[Value] = []
        self.parent: Block | None = None
        self.loc = loc
        self.attributes: dict[str, Any] = dict(attributes or {})
        names = list(result_names or [None] * len(result_types))
        self.results = [
            OpResult(t, self, i, n)
            for i, (t, n) in enumerate(zip(result_types, names, strict=True))
        ]
        self.regions: list[Region] = []
        for r in regions:
            r.parent = self
            self.regions.append(r)
        for value in operands:
            self._operands.append(value)
            value.uses[Use(self, len(self._operands) - 1)] = None

    # ---- operands -------------------------------------------------------------------------

    @property
    def operands(self) -> tuple[Value, ...]:
        return tuple(self._operands)

    def set_operand(self, index: int, value: Value) -> None:
        old = self._operands[index]
        old.uses.pop(Use(self, index), None)
        self._operands[index] = value
        value.uses[Use(self, index)] = None

    def set_operands(self, values: Sequence[Value]) -> None:
        """Replace the whole operand list (the count may change)."""
        self._drop_operand_uses()
        self._operands = []
        for value in values:
            self._operands.append(value)
            value.uses[Use(self, len(self._operands) - 1)] = None

    def _drop_operand_uses(self) -> None:
        for i, value in enumerate(self._operands):
            value.uses.pop(Use(self, i), None)

    # ---- structure --------------------------------------------------------------------------

    @property
    def result(self) -> OpResult:
        """The single result of a one-result op."""
        if len(self.results) != 1:
            raise ValueError(f"{self.name} has {len(self.results)} results, not one")
        return self.results[0]

    def has_trait(self, trait: type[Trait]) -> bool:
        return trait in type(self).traits

    def walk(self) -> Iterator[Operation]:
        """This op, then every op nested in its regions (pre-order)."""
        yield self
        if self.regions:
            yield from walk_ops(nested_ops(self))

    def ancestors(self) -> Iterator[Operation]:
        """The ops whose regions (transitively) contain this op, innermost first."""
        block = self.parent
        while block is not None and block.parent_op is not None:
            op = block.parent_op
            yield op
            block = op.parent

    def erase(self) -> None:
        """Remove this op (and everything nested) from the IR; its results must be unused."""
        for r in self.results:
            if r.has_uses:
                users = ", ".join(u.name for u in r.users)
                raise ValueError(f"cannot erase {self.name}: result still used by {users}")
        for nested in reversed(list(self.walk())):
            nested._drop_operand_uses()
        if self.parent is not None:
            self.parent.remove(self)

    def segment(self, defs: Sequence[Any], target: Any, total: int) -> tuple[int, int]:
        """The [start, stop) slice of operands/results that definition `target` covers."""
        fixed = sum(1 for d in defs if not d.variadic)
        var_len = max(0, total - fixed)
        start = 0
        for d in defs:
            width = var_len if d.variadic else 1
            if d is target:
                return start, start + width
            start += width
        raise KeyError(target.name)

    # ---- hooks ------------------------------------------------------------------------------

    def verify_(self) -> None:
        """Op-specific invariants; raise ValueError with a plain message when one is broken."""

    def is_deterministic(self) -> bool:
        """Whether two evaluations with equal operands give equal results (CSE asks this)."""
        return True

    def __repr__(self) -> str:
        return f"<{self.name} at {self.loc}>"
