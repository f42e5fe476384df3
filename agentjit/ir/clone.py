"""Deep copies of ops: `clone_op(op, mapping)` copies `op` with its regions, reading each operand
through `mapping` (values not in it are kept) and recording old -> new for every value it
defines, so a sequence of ops can be copied in order into another block."""

from __future__ import annotations

import copy

from agentjit.ir.block import Block, Region
from agentjit.ir.operation import Operation
from agentjit.ir.value import Value


def clone_op(op: Operation, mapping: dict[Value, Value]) -> Operation:
    """A copy of `op` (and everything nested), operands remapped; results added to `mapping`."""
    regions = [clone_region(r, mapping) for r in op.regions]
    new = type(op)(
        [mapping.get(v, v) for v in op.operands],
        [r.type for r in op.results],
        copy.deepcopy(op.attributes),
        regions,
        loc=op.loc,
        result_names=[r.name_hint for r in op.results],
    )
    mapping.update(zip(op.results, new.results, strict=True))
    return new


def clone_region(region: Region, mapping: dict[Value, Value]) -> Region:
    blocks = []
    for block in region.blocks:
        new = Block([a.type for a in block.args], [a.name_hint for a in block.args])
        mapping.update(zip(block.args, new.args, strict=True))
        for op in block.ops:
            new.append(clone_op(op, mapping))
        blocks.append(new)
    return Region(blocks)


__all__ = ["clone_op", "clone_region"]
