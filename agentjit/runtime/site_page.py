"""The page a tool sees: relative URLs resolved against its site, navigation kept in bounds.

Tools are written with relative paths (`await page.goto("/search/?q=...")`) so one site module
serves any deployment; `SiteBinding` says where the site runs for this run (its base URL and the
origins navigation may reach). A `goto` outside those origins raises `NavigationError` before the
browser moves, and `check_origin` catches a click or redirect that left them.

A binding also carries the run's `memo`: a dict the site's tools share for the length of one run
(every tab of it), e.g. where a page they have seen links to. A binding is made per run, so
nothing in it outlives the run or crosses to another site. What tools put there is page content:
data to pass to `goto` (which still checks the origin), never code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from agentjit.tools.page import NavigationError, Page
from agentjit.tools.site import Site


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


@dataclass(frozen=True)
class SiteBinding:
    """Where a site runs in this run: base URL and the origins its tools may navigate to."""

    site: Site
    base_url: str
    origins: frozenset[str]
    memo: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def of(cls, site: Site, base_url: str | None = None) -> SiteBinding:
        """Bind `site` to `base_url`, else `AGENTJIT_SITE_<NAME>_URL`, else its declared URL."""
        env = os.environ.get(f"AGENTJIT_SITE_{site.name.upper()}_URL")
        url = (base_url or env or site.base_url).rstrip("/")
        if not url:
            raise ValueError(f"site {site.name} has no base URL; pass one for this run")
        declared = {origin_of(o) for o in site.origins}
        return cls(site, url, frozenset({origin_of(url), *declared}))

    def resolve(self, url: str) -> str:
        return urljoin(self.base_url + "/", url)

    def allows(self, url: str) -> bool:
        return url.startswith(("about:", "data:")) or origin_of(url) in self.origins


class SitePage:
    """A `Page` for one site's tools (see module doc); everything but `goto` passes through."""

    def __init__(self, page: Page, binding: SiteBinding) -> None:
        self.page = page
        self.binding = binding

    @property
    def memo(self) -> dict[str, Any]:
        """What the site's tools remember for the rest of this run (see module doc)."""
        return self.binding.memo

    async def goto(self, url: str, timeout_s: float = 10.0) -> None:
        target = self.binding.resolve(url)
        if not self.binding.allows(target):
            raise NavigationError(
                f"{self.binding.site.name} may not navigate to {target}: allowed origins are "
                + ", ".join(sorted(self.binding.origins)),
                url=target,
            )
        await self.page.goto(target, timeout_s)

    async def check_origin(self, what: str) -> None:
        """Raise if the page has left the site's origins (after a click or a redirect)."""
        url = await self.page.url()
        if not self.binding.allows(url):
            raise NavigationError(
                f"{what} left the allowed origins of {self.binding.site.name}", url=url
            )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.page, name)


async def call_tool(
    site: Site, tool_name: str, page: Page, base_url: str | None = None, **kwargs: Any
) -> Any:
    """Run one tool of `site` on `page` (relative URLs resolved against `base_url`)."""
    tool = site.tools.get(tool_name)
    if tool is None:
        raise KeyError(f"site {site.name} has no tool {tool_name}; it has {sorted(site.tools)}")
    bound = SitePage(page, SiteBinding.of(site, base_url))
    output = await tool.fn(bound, **kwargs)
    if tool.signature.effects.navigates:
        await bound.check_origin(f"{site.name}.{tool_name}")
    return output
