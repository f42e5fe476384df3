"""The agent-loop baseline: one LLM call per action, on the same tools, model and browser as the
compiled plans (see `loop.py`)."""

from agentjit.agent.actions import Action, ActionError, action_gbnf, parse_action
from agentjit.agent.loop import AgentLoop, LoopReport, PromptSettings, Step, run_loop, run_loop_cli

__all__ = [
    "Action",
    "ActionError",
    "AgentLoop",
    "LoopReport",
    "PromptSettings",
    "Step",
    "action_gbnf",
    "parse_action",
    "run_loop",
    "run_loop_cli",
]
