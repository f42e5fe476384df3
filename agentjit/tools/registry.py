"""Finding a site by the name a program `use`s.

Order: an entry point in the `agentjit.sites` group (so a separate package can add sites), then
the sites shipped in `agentjit.sites`, then a dotted module path. The module must define a
module-level `site` (a `Site`).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
from functools import cache

from agentjit.ir import SiteSignature
from agentjit.tools.site import Site, Tool

ENTRY_POINT_GROUP = "agentjit.sites"


def _from_module(path: str) -> Site | None:
    try:
        module = importlib.import_module(path)
    except ModuleNotFoundError as exc:
        if exc.name and path.startswith(exc.name):
            return None
        raise
    site = getattr(module, "site", None)
    return site if isinstance(site, Site) else None


@cache
def load_site(name: str) -> Site | None:
    """The site called `name`, or None when nothing provides it."""
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            obj = ep.load()
            return obj if isinstance(obj, Site) else getattr(obj, "site", None)
    if name.isidentifier():
        site = _from_module(f"agentjit.sites.{name}")
        if site is not None:
            return site
    return _from_module(name) if "." in name else None


def load_tool(qualified_name: str) -> tuple[Site, Tool] | None:
    """The site and tool a qualified name (`shop.search`) names, or None."""
    site_name, _, tool_name = qualified_name.rpartition(".")
    site = load_site(site_name)
    tool = site.tools.get(tool_name) if site is not None else None
    return (site, tool) if tool is not None else None


def resolve_site(name: str) -> SiteSignature | None:
    """The compiler-facing signature of site `name` (the frontend's site resolver)."""
    site = load_site(name)
    return site.signature() if site is not None else None


def builtin_site_names() -> list[str]:
    import agentjit.sites as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))
