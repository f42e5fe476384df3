"""The tool protocol: sites, their abstract state, tools with contracts and effects."""

from agentjit.tools.page import (
    ElementNotFound,
    NavigationError,
    Page,
    PageError,
    PageTimeout,
    ScriptError,
)
from agentjit.tools.registry import builtin_site_names, load_site, load_tool, resolve_site
from agentjit.tools.site import Site, Tool, ir_type, json_schema
from agentjit.tools.state import ANY, UNKNOWN, Contract, Enum, State, Text

__all__ = [
    "ANY",
    "UNKNOWN",
    "Contract",
    "ElementNotFound",
    "Enum",
    "NavigationError",
    "Page",
    "PageError",
    "PageTimeout",
    "ScriptError",
    "Site",
    "State",
    "Text",
    "Tool",
    "builtin_site_names",
    "ir_type",
    "json_schema",
    "load_site",
    "load_tool",
    "resolve_site",
]
