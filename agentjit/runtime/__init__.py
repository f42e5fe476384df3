"""The async runtime that executes compiled plans on a browser backend: site bindings (relative
URLs, allowed origins), the dataflow executor over the IR, runtime contract checks, traces."""

from agentjit.runtime.site_page import SiteBinding, SitePage, call_tool

__all__ = ["SiteBinding", "SitePage", "call_tool"]
