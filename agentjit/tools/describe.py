"""Human and JSON descriptions of a site: state schema, tools, contracts, state machine."""

from __future__ import annotations

from typing import Any

from agentjit.tools.site import Site, Tool
from agentjit.tools.state import UNKNOWN, describe_pattern
from agentjit.tools.statemachine import shortest_calls


def _contract_lines(tool: Tool) -> list[str]:
    c = tool.contract
    lines = [f"      requires {f} = {describe_pattern(p)}" for f, p in c.requires.items()]
    lines += [f"      ensures  {f} = {describe_pattern(p)}" for f, p in c.ensures.items()]
    lines += [
        f"      {arg} must come from {' or '.join(t + '()' for t in tools)}"
        for arg, tools in c.requires_called.items()
    ]
    return lines


def _effects_line(tool: Tool) -> str:
    e = tool.signature.effects
    parts = [
        name
        for name in ("reads_page", "navigates", "idempotent", "commutative")
        if getattr(e, name)
    ]
    parts += [f"writes {r}" for r in sorted(e.writes)]
    return "      effects: " + (", ".join(parts) or "none")


def reachability(site: Site) -> list[tuple[str, Any, list[str] | None]]:
    """For each Enum field value: the shortest calls that establish it from a fresh tab."""
    rows = []
    for name, kind in site.state.enum_fields().items():
        for value in kind.values:
            rows.append((name, value, shortest_calls(site, site.start_state(), {name: value})))
    return rows


def describe_site(site: Site) -> str:
    """The text `agentjit site NAME` prints."""
    out = [f"site {site.name}  ({site.base_url or 'no base URL'}, version {site.version})"]
    if site.doc:
        out.append(f"  {site.doc}")
    out.append("  state:")
    start = site.start_state()
    for name, kind in site.state.fields.items():
        initial = "" if start[name] is UNKNOWN else f"   (starts {start[name]!r})"
        session = "   [kept across sites]" if name in site.session_fields else ""
        out.append(f"    {name}: {kind.describe()}{initial}{session}")
    out.append("  tools:")
    for tool in site.tools.values():
        out.append(f"    {tool.signature.describe()}")
        if tool.signature.doc:
            out.append(f"      {tool.signature.doc.splitlines()[0]}")
        out.append(_effects_line(tool))
        out.extend(_contract_lines(tool))
    out.append("  from a fresh tab, the shortest way to reach:")
    for name, value, path in reachability(site):
        how = " -> ".join(path) if path else ("(already)" if path == [] else "unreachable")
        out.append(f"    {name} = {value!r}: {how}")
    return "\n".join(out) + "\n"


def site_json(site: Site) -> dict[str, Any]:
    """The site as data: schema, tools (JSON schema + contract), reachability."""
    return {
        "name": site.name,
        "base_url": site.base_url,
        "version": site.version,
        "state": {n: k.describe() for n, k in site.state.fields.items()},
        "start": {n: repr(v) if v is UNKNOWN else v for n, v in site.start_state().items()},
        "tools": [t.schema() for t in site.tools.values()],
        "reach": [{"field": n, "value": v, "calls": p} for n, v, p in reachability(site)],
    }
