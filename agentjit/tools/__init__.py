"""The tool protocol: sites, tools and their signatures (contracts come with the protocol issue)."""

from agentjit.tools.page import Page
from agentjit.tools.registry import builtin_site_names, load_site, resolve_site
from agentjit.tools.site import Site, Tool, ir_type

__all__ = ["Page", "Site", "Tool", "builtin_site_names", "ir_type", "load_site", "resolve_site"]
