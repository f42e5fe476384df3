"""Op definitions, one module per family: structure, values, control flow, calls, tabs."""

from agentjit.ir.ops.calls import LlmCallOp, ToolCallOp
from agentjit.ir.ops.control import AssertOp, ForOp, IfOp
from agentjit.ir.ops.structure import FuncOp, ModuleOp, ReturnOp, YieldOp
from agentjit.ir.ops.tabs import TabCloseOp, TabOpenOp, static_tab
from agentjit.ir.ops.values import (
    BINARY_OPS,
    UNARY_OPS,
    BinaryOp,
    BuiltinCallOp,
    CastOp,
    ConstantOp,
    DictOp,
    GetAttrOp,
    GetItemOp,
    ListOp,
    UnaryOp,
    UndefOp,
)

__all__ = [
    "BINARY_OPS",
    "UNARY_OPS",
    "AssertOp",
    "BinaryOp",
    "BuiltinCallOp",
    "CastOp",
    "ConstantOp",
    "DictOp",
    "ForOp",
    "FuncOp",
    "GetAttrOp",
    "GetItemOp",
    "IfOp",
    "ListOp",
    "LlmCallOp",
    "ModuleOp",
    "ReturnOp",
    "TabCloseOp",
    "TabOpenOp",
    "ToolCallOp",
    "UnaryOp",
    "UndefOp",
    "YieldOp",
    "static_tab",
]
