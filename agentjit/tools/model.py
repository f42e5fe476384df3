"""A deterministic in-memory model of sites, generated from their contracts: the dynamic oracle.

    model = SiteModel([load_site("shop")], seed=3)
    Interpreter(model.handle).run(module, "main", args)

`handle(qualified_name, kwargs, tab)` plays one tool call the way the contracts describe it, on
one tab's state (tab 0 is `state`; another tab starts from the start page when first used, with
the session fields, which all tabs share, as they are now):

1. `requires` is checked on the concrete state (an Enum pattern needs a known, allowed value;
   "$param" needs the field to equal that argument; ANY needs nothing), and so is
   `requires_called` (the argument must equal a value found, at any depth, in an *earlier* output
   of one of the named tools). A failure raises `ContractViolation`.
2. The output is synthesised from the tool's declared result type, deterministically from
   (seed, tool, arguments, how often the tool was called): lists hold 0-4 items, strings come
   from small per-field pools (`VOCABULARY`) so values repeat as on a real site.
3. A navigating tool makes every other site's non-session fields UNKNOWN; then `ensures` apply
   ("$param" -> the argument, "$result" -> the output, a value -> it, a set -> a deterministic
   pick, ANY / UNKNOWN -> UNKNOWN). Writes are logged per `site.resource`.

The state starts from each site's `start_state()`; UNKNOWN stays UNKNOWN until a tool ensures a
value. This is what the static `check-contracts` pass must over-approximate: a program the
checker accepts never raises `ContractViolation` here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentjit.ir import (
    BOOL,
    FLOAT,
    INT,
    NONE,
    REQUIRED,
    STR,
    DictType,
    ListType,
    RecordType,
    Type,
)
from agentjit.tools.site import Site, Tool
from agentjit.tools.state import (
    UNKNOWN,
    allowed_values,
    describe_pattern,
    matches,
    param_ref,
    same_value,
)

MAX_ITEMS = 4
"""Synthesised lists hold 0..MAX_ITEMS items."""

GENERIC_POOL = 4
"""Strings without a vocabulary entry are one of `<hint>-0` .. `<hint>-3`."""

VOCABULARY: Mapping[str, tuple[Any, ...]] = {
    "title": ("HDMI cable", "USB hub", "Mouse pad", "Desk lamp", "Stainless kettle"),
    "description": (
        "Stainless steel, 1.7 l.",
        "A braided cable, 2 m.",
        "Four ports, bus powered.",
        "",
    ),
    "upc": ("9780141439518", "5012345678900", "9781400079988"),
    "url": ("/catalogue/item_1/", "/catalogue/item_2/", "/catalogue/item_3/"),
    "number": ("100023", "100024", "100025"),
    "summary": ("Crash on login", "crash on login", "Slow search", "Typo on the home page"),
    "status": ("new", "assigned", "accepted", "reopened", "closed"),
    "priority": ("blocker", "critical", "major", "minor", "trivial"),
    "owner": ("", "alice", "bob", "carol"),
    "reporter": ("alice", "bob", "dave"),
    "component": ("", "ui", "checkout", "inventory"),
    "comments": ("alice: on it", "bob: any news?", "Fixed in r42"),
    "id": tuple(range(1, 9)),
    "quantity": (1, 1, 2, 3),
    "price": (2.5, 4.99, 9.99, 15.0, 19.99, 35.0, 49.5, 120.0),
    "total": (9.99, 24.5, 61.0),
}
"""Small value pools by field (or parameter) name, so synthetic values repeat realistically."""


PAGE_KEY = "#page"
"""The tab-state entry naming what the tab shows: its last navigation (tool and arguments)."""


class ContractViolation(Exception):
    """A tool was called in a state (or with an argument) its contract does not allow."""

    def __init__(self, tool: str, field: str, expected: str, actual: Any) -> None:
        self.tool = tool
        self.field = field
        self.expected = expected
        self.actual = actual
        shown = "unknown" if actual is UNKNOWN else repr(actual)
        super().__init__(f"{tool}(): {field} must be {expected}, but it is {shown}")


@dataclass(frozen=True)
class Call:
    """One successful tool call: qualified name, arguments (defaults filled in) and output."""

    tool: str
    kwargs: dict[str, Any]
    output: Any


@dataclass
class SiteModel:
    """The sites' abstract state, made concrete, driven by their contracts (see module doc)."""

    sites: list[Site]
    seed: int = 0
    vocabulary: Mapping[str, tuple[Any, ...]] = field(default_factory=lambda: dict(VOCABULARY))
    state: dict[str, Any] = field(default_factory=dict)
    """`site.field` -> current value: each site's `start_state()` (fields given here override
    it), then whatever the tools ensure. UNKNOWN until a tool establishes a value."""
    writes: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    """`site.resource` -> the write calls, in order, as (qualified tool, kwargs)."""
    calls: list[Call] = field(default_factory=list)
    tabs: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Tab number -> that tab's state (tab 0 is `state`)."""
    by_name: dict[str, Site] = field(init=False, repr=False)
    current: dict[str, Any] = field(init=False, repr=False)
    session_keys: set[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.by_name = {site.name: site for site in self.sites}
        for site in self.sites:
            for name, value in site.start_state().items():
                self.state.setdefault(f"{site.name}.{name}", value)
        self.tabs[0] = self.current = self.state
        self.session_keys = {
            f"{site.name}.{name}" for site in self.sites for name in site.session_fields
        }

    def tab_state(self, tab: int) -> dict[str, Any]:
        """The state of tab `tab`, created fresh (start page, shared session) on first use."""
        if tab not in self.tabs:
            fresh = {
                f"{site.name}.{name}": value
                for site in self.sites
                for name, value in site.start_state().items()
            }
            fresh.update({k: v for k, v in self.state.items() if k in self.session_keys})
            self.tabs[tab] = fresh
        return self.tabs[tab]

    def set_field(self, key: str, value: Any) -> None:
        """Set a field on the current tab; a session field changes on every tab."""
        targets = self.tabs.values() if key in self.session_keys else [self.current]
        for state in targets:
            state[key] = value

    # ---- the tool handler -----------------------------------------------------------------

    def handle(self, qualified_name: str, kwargs: dict[str, Any], tab: int = 0) -> Any:
        """Play one tool call on tab `tab` (usable as the Interpreter's `tool_handler`)."""
        self.current = self.tab_state(tab)
        site, tool = self.lookup(qualified_name)
        kwargs = with_defaults(tool, kwargs)
        self.check_requires(qualified_name, site, tool, kwargs)
        self.check_requires_called(qualified_name, site, tool, kwargs)
        output = self.output(tool, kwargs)
        self.apply_effects(qualified_name, site, tool, kwargs, output)
        self.calls.append(Call(qualified_name, kwargs, output))
        return output

    def lookup(self, qualified_name: str) -> tuple[Site, Tool]:
        site_name, _, tool_name = qualified_name.rpartition(".")
        site = self.by_name.get(site_name)
        if site is None or tool_name not in site.tools:
            raise KeyError(f"the site model has no tool {qualified_name}")
        return site, site.tools[tool_name]

    # ---- contracts --------------------------------------------------------------------------

    def check_requires(self, qname: str, site: Site, tool: Tool, kwargs: dict[str, Any]) -> None:
        for name, pattern in tool.contract.requires.items():
            current = self.current.get(f"{site.name}.{name}", UNKNOWN)
            ref = param_ref(pattern)
            if ref is not None:
                ok = current is not UNKNOWN and ref in kwargs and same_value(current, kwargs[ref])
            else:
                ok = matches(pattern, current)
            if not ok:
                raise ContractViolation(qname, name, describe_pattern(pattern), current)

    def check_requires_called(
        self, qname: str, site: Site, tool: Tool, kwargs: dict[str, Any]
    ) -> None:
        for arg, producers in tool.contract.requires_called.items():
            if arg not in kwargs:
                continue
            wanted = {f"{site.name}.{p}" for p in producers}
            earlier = (c.output for c in self.calls if c.tool in wanted)
            if not any(contains_value(out, kwargs[arg]) for out in earlier):
                expected = "a value read from " + " or ".join(f"{p}()" for p in producers)
                raise ContractViolation(qname, arg, expected, kwargs[arg])

    def apply_effects(
        self, qname: str, site: Site, tool: Tool, kwargs: dict[str, Any], output: Any
    ) -> None:
        effects = tool.signature.effects
        if effects.navigates:
            self.leave_other_sites(site)
            self.current[PAGE_KEY] = (qname, sorted(kwargs.items()))
        for name, pattern in tool.contract.ensures.items():
            self.set_field(f"{site.name}.{name}", self.ensured(tool, pattern, kwargs, output))
        for resource in sorted(effects.writes):
            self.writes.setdefault(f"{site.name}.{resource}", []).append((qname, dict(kwargs)))

    def leave_other_sites(self, site: Site) -> None:
        """The tab navigated to `site`: what other sites showed is no longer known."""
        for other in self.sites:
            if other is site:
                continue
            for name in other.state.fields:
                if name not in other.session_fields:
                    self.current[f"{other.name}.{name}"] = UNKNOWN

    def ensured(self, tool: Tool, pattern: Any, kwargs: dict[str, Any], output: Any) -> Any:
        ref = param_ref(pattern)
        if ref == "result":
            return output
        if ref is not None:
            return kwargs.get(ref, UNKNOWN)
        allowed = allowed_values(pattern)
        if not allowed:
            return UNKNOWN
        choices = sorted(allowed, key=repr)
        rng = self.rng(tool.signature.qualified_name, "ensures", len(self.calls))
        return choices[rng.randrange(len(choices))]

    # ---- synthetic values -------------------------------------------------------------------

    def call_key(self, tool: Tool, kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """What a call's output depends on, as on a real site: the tool, its arguments and the
        site's server state (its writes so far); a non-navigating read also depends on the page
        the tab shows (the tab's last navigation); a non-idempotent call on how often it ran.
        So an idempotent call repeated in the same situation returns the same output."""
        sig = tool.signature
        site = sig.qualified_name.rpartition(".")[0]
        version = sum(len(w) for r, w in self.writes.items() if r.startswith(site + "."))
        key: tuple[Any, ...] = (sig.qualified_name, sorted(kwargs.items()), version)
        effects = sig.effects
        if effects.reads_page and not effects.navigates:
            key += (self.current.get(PAGE_KEY),)
        if not effects.idempotent:
            key += (sum(1 for c in self.calls if c.tool == sig.qualified_name),)
        return key

    def rng(self, *key: Any) -> random.Random:
        digest = hashlib.sha256(repr((self.seed, *key)).encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def output(self, tool: Tool, kwargs: dict[str, Any]) -> Any:
        """The synthetic output of a call; a record's fields named like an argument echo it
        (`product_details(title=t).title == t`, `view_ticket(id=i).id == i`)."""
        result = tool.signature.result
        out = self.value(result, tool.signature.name, self.call_key(tool, kwargs))
        if isinstance(result, RecordType):
            for name, ft in result.fields:
                if name in kwargs and _fits(kwargs[name], ft):
                    out[name] = kwargs[name]
        return out

    def value(self, t: Type, hint: str, key: Any) -> Any:
        """A deterministic value of IR type `t` for `key`; `hint` picks the vocabulary."""
        return self.synthesize(t, hint, self.rng(key, hint))

    def synthesize(self, t: Type, hint: str, rng: random.Random) -> Any:
        if isinstance(t, ListType):
            return [self.synthesize(t.elem, hint, rng) for _ in range(rng.randint(0, MAX_ITEMS))]
        if isinstance(t, DictType):
            keys = self.pool(STR, "key")
            return {k: self.synthesize(t.value, k, rng) for k in keys[: rng.randint(0, 3)]}
        if isinstance(t, RecordType):
            return {name: self.synthesize(ft, name, rng) for name, ft in t.fields}
        if t == BOOL:
            return rng.random() < 0.7
        if t == NONE:
            return None
        pool = self.pool(t, hint)
        return pool[rng.randrange(len(pool))] if pool else None

    def pool(self, t: Type, hint: str) -> tuple[Any, ...]:
        """The values a scalar of type `t` named `hint` is drawn from."""
        known = tuple(v for v in self.vocabulary.get(hint, ()) if _fits(v, t))
        if known:
            return known
        if t == STR:
            return tuple(f"{hint}-{i}" for i in range(GENERIC_POOL))
        if t == INT:
            return tuple(range(10))
        if t == FLOAT:
            return (0.0, 0.5, 3.25, 12.0, 99.9)
        return ()


def _fits(value: Any, t: Type) -> bool:
    if t == STR:
        return isinstance(value, str)
    if t == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if t == FLOAT:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return False


def with_defaults(tool: Tool, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments with the tool's declared defaults filled in."""
    out = {p.name: p.default for p in tool.signature.params if p.default is not REQUIRED}
    out.update(kwargs)
    return out


def contains_value(haystack: Any, needle: Any) -> bool:
    """Whether `needle` equals `haystack` or something inside it (dict values, list items)."""
    if same_value(haystack, needle):
        return True
    if isinstance(haystack, Mapping):
        return any(contains_value(v, needle) for v in haystack.values())
    if isinstance(haystack, Sequence) and not isinstance(haystack, str | bytes):
        return any(contains_value(v, needle) for v in haystack)
    if dataclasses.is_dataclass(haystack):
        parts = (getattr(haystack, f.name) for f in dataclasses.fields(haystack))
        return any(contains_value(v, needle) for v in parts)
    return False


__all__ = ["VOCABULARY", "Call", "ContractViolation", "SiteModel", "contains_value"]
