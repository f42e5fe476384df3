"""Calls that leave the process: site tools (`tool.call`) and language models (`llm.call`).

A `tool.call` takes its arguments by name (attribute `args` names the data operands in order),
then the tokens of what it touches; it returns the tool's output, then the next state of each
token, in the same order. Its `effects` attribute copies the tool's declared effects so passes
need no site to reason about it.

An `llm.call` fills a `{name}` template from named operands and returns text. It touches no tab
or resource, so it is `Pure` in the dataflow sense; it is deterministic (and so mergeable by CSE)
only at temperature 0.
"""

from __future__ import annotations

from agentjit.ir.builtins import template_names
from agentjit.ir.operation import ANY_TYPE, Operation, attr, result, var_operand, var_result
from agentjit.ir.ops.tabs import static_tab
from agentjit.ir.signatures import Effects
from agentjit.ir.traits import Pure
from agentjit.ir.types import TabToken


class ToolCallOp(Operation):
    """A call of a site tool: named data operands then tokens in; output then tokens out."""

    name = "tool.call"
    tool = attr(str)
    args = attr(list)
    effects = attr(dict)
    tab = attr(int, optional=True)
    """Which tab the call runs on, set by `parallelize` (0 is the function's own tab)."""
    inputs = var_operand(ANY_TYPE)
    outs = var_result(ANY_TYPE)

    @property
    def site_name(self) -> str:
        """The site part of the qualified tool name (`shop` of `shop.search`)."""
        return self.tool.rpartition(".")[0]

    @property
    def data_operands(self) -> list:
        return [v for v in self.operands if not v.type.is_token]

    @property
    def token_operands(self) -> list:
        return [v for v in self.operands if v.type.is_token]

    @property
    def output(self):
        return self.results[0]

    @property
    def token_results(self) -> list:
        return self.results[1:]

    @property
    def declared_effects(self) -> Effects:
        return Effects.from_attr(self.effects)

    def verify_(self) -> None:
        n_data = len(self.data_operands)
        if self.operands[:n_data] != tuple(self.data_operands):
            raise ValueError("data operands must come before token operands")
        if len(self.args) != n_data or not all(isinstance(a, str) for a in self.args):
            raise ValueError(f"args must name the {n_data} data operands (strings)")
        if not self.results or self.results[0].type.is_token:
            raise ValueError("the first result must be the tool's output")
        ins = [v.type for v in self.token_operands]
        outs = [v.type for v in self.token_results]
        if ins != outs:
            raise ValueError(
                f"token results ({', '.join(map(str, outs))}) must match the token operands "
                f"({', '.join(map(str, ins))})"
            )
        self._verify_tab_tag()

    def _verify_tab_tag(self) -> None:
        tab = self.attributes.get("tab")
        if tab is None:
            return
        for token in self.token_operands:
            origin = static_tab(token)
            if isinstance(token.type, TabToken) and origin is not None and origin != tab:
                raise ValueError(f"tagged tab {tab}, but its tab token belongs to tab {origin}")


class LlmCallOp(Operation):
    """An LLM completion of a `{name}` template filled from named operands."""

    name = "llm.call"
    template = attr(str)
    args = attr(list)
    model = attr(str)
    temperature = attr(float, int)
    values = var_operand()
    out = result()
    traits = frozenset({Pure})

    def is_deterministic(self) -> bool:
        return self.temperature == 0

    def verify_(self) -> None:
        if len(self.args) != len(self.values) or not all(isinstance(a, str) for a in self.args):
            raise ValueError(f"args must name the {len(self.values)} operands (strings)")
        missing = [n for n in template_names(self.template) if n not in self.args]
        if missing:
            raise ValueError(f"template placeholders without a value: {', '.join(missing)}")
