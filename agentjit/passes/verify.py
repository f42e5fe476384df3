"""`verify`: run the IR verifier as a pipeline step (the manager also runs it after every pass)."""

from __future__ import annotations

from dataclasses import dataclass

from agentjit.ir import ModuleOp, verify
from agentjit.passes.base import Pass, PassContext


@dataclass(frozen=True)
class VerifyPass(Pass):
    """Check every IR invariant (structure, dominance, types, token linearity); change nothing.

    Always legal; preserves everything. Raises `VerifyError` listing every broken invariant.
    """

    name = "verify"

    def run(self, module: ModuleOp, ctx: PassContext) -> None:
        verify(module)
