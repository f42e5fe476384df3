"""The generic textual form of the IR, MLIR-style. `parser.py` reads it back exactly.

    !Product = record<name: str, price: float>

    "builtin.module"() ({
      "func.func"() ({
      ^bb0(%category: str, %tab: !tab):
        %items, %tab_1 = "tool.call"(%tab) {args = [], tool = "shop.list_products", ...}
            : (!tab) -> (list<!Product>, !tab) loc("shop.agent":4:13 to 4:28)
        ...
      }) {result_types = [str, !tab], sym_name = "main"} : () -> ()
    }) {uses = ["shop"]} : () -> ()

Names come from value name hints, made unique per module (`%tab`, `%tab_1`, ...); values without
a hint are numbered. Attributes are printed sorted by key. Records used anywhere are declared
once at the top.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from agentjit.ir.block import Block, Region
from agentjit.ir.location import Location
from agentjit.ir.operation import Operation
from agentjit.ir.types import DictType, ListType, RecordType, Type
from agentjit.ir.value import Value

_IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


class ValueNames:
    """Module-wide unique printed names for values, assigned in definition order."""

    def __init__(self) -> None:
        self._names: dict[Value, str] = {}
        self._taken: set[str] = set()
        self._counter = 0

    def assign(self, value: Value) -> str:
        hint = value.name_hint
        if hint and _IDENT.fullmatch(hint):
            name, suffix = hint, 0
            while name in self._taken:
                suffix += 1
                name = f"{hint}_{suffix}"
        else:
            while str(self._counter) in self._taken:
                self._counter += 1
            name = str(self._counter)
            self._counter += 1
        self._taken.add(name)
        self._names[value] = name
        return name

    def __getitem__(self, value: Value) -> str:
        name = self._names.get(value)
        return f"%{name}" if name is not None else "%<<undefined>>"

    def name_all(self, root: Operation) -> None:
        for op in root.walk():
            for r in op.regions:
                for b in r.blocks:
                    for a in b.args:
                        self.assign(a)
            for res in op.results:
                self.assign(res)


def format_attr(value: Any) -> str:
    """One attribute value in textual form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "1e999" if value > 0 else "-1e999"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_attr(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (
            f"{json.dumps(str(k), ensure_ascii=False)}: {format_attr(v)}" for k, v in value.items()
        )
        return "{" + ", ".join(items) + "}"
    if isinstance(value, Type):
        return str(value)
    raise TypeError(f"cannot print attribute value {value!r}")


def format_loc(loc: Location) -> str:
    if not loc.known:
        return ""
    return f" loc({json.dumps(loc.file)}:{loc.line}:{loc.col} to {loc.end_line}:{loc.end_col})"


class Printer:
    """Prints a module (or any op) in the generic form, with stable names."""

    def __init__(self, root: Operation, indent: str = "  ") -> None:
        self.root = root
        self.names = ValueNames()
        self.names.name_all(root)
        self.indent = indent

    def print(self) -> str:
        records = collect_records(self.root)
        header = "".join(r.declaration() + "\n" for r in records)
        if header:
            header += "\n"
        return header + "\n".join(self.op_lines(self.root, 0)) + "\n"

    def op_lines(self, op: Operation, depth: int) -> list[str]:
        pad = self.indent * depth
        head = pad + self.op_head(op)
        if not op.regions:
            return [head + self.op_tail(op)]
        lines = [head + " ({"]
        for i, region in enumerate(op.regions):
            if i:
                lines.append(pad + "}, {")
            lines.extend(self.region_lines(region, depth))
        lines.append(pad + "})" + self.op_tail(op))
        return lines

    def region_lines(self, region: Region, depth: int) -> list[str]:
        lines: list[str] = []
        for block in region.blocks:
            lines.extend(self.block_lines(block, depth))
        return lines

    def block_lines(self, block: Block, depth: int) -> list[str]:
        lines = []
        if block.args:
            args = ", ".join(f"{self.names[a]}: {a.type}" for a in block.args)
            lines.append(f"{self.indent * depth}^bb0({args}):")
        for op in block.ops:
            lines.extend(self.op_lines(op, depth + 1))
        return lines

    def op_head(self, op: Operation) -> str:
        results = ", ".join(self.names[r] for r in op.results)
        operands = ", ".join(self.names[v] for v in op.operands)
        prefix = f"{results} = " if results else ""
        return f"{prefix}{json.dumps(op.name)}({operands})"

    def op_tail(self, op: Operation) -> str:
        attrs = ""
        if op.attributes:
            items = (f"{k} = {format_attr(op.attributes[k])}" for k in sorted(op.attributes))
            attrs = " {" + ", ".join(items) + "}"
        ins = ", ".join(str(v.type) for v in op.operands)
        outs = ", ".join(str(r.type) for r in op.results)
        return f"{attrs} : ({ins}) -> ({outs}){format_loc(op.loc)}"

    def op_summary(self, op: Operation) -> str:
        """One line for `op` (regions elided as `({...})`), as shown in verifier messages."""
        regions = " ({...})" if op.regions else ""
        return self.op_head(op) + regions + self.op_tail(op)


def collect_records(root: Operation) -> list[RecordType]:
    """Every record type mentioned by `root`, in first-use order (nested records first)."""
    found: dict[str, RecordType] = {}

    def visit(t: Any) -> None:
        if isinstance(t, RecordType):
            for _, ft in t.fields:
                visit(ft)
            found.setdefault(t.name, t)
        elif isinstance(t, ListType):
            visit(t.elem)
        elif isinstance(t, DictType):
            visit(t.value)
        elif isinstance(t, list | tuple):
            for item in t:
                visit(item)

    for op in root.walk():
        for v in (*op.results, *(a for r in op.regions for b in r.blocks for a in b.args)):
            visit(v.type)
        for a in op.attributes.values():
            visit(a)
    return list(found.values())


def print_ir(root: Operation) -> str:
    """The whole textual form of `root` (normally a `builtin.module`)."""
    return Printer(root).print()
