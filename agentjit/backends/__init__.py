"""Browser backends implementing `agentjit.tools.Page`: `cdp` (the DevTools websocket, many tabs
of one browser at once) and `selenium` (WebDriver, local chromedriver or a remote Grid).
`launch_backend(name)` starts either; `chromium` finds and launches the browser itself."""

from agentjit.backends.base import BACKENDS, Browser, BrowserContext, launch_backend

__all__ = ["BACKENDS", "Browser", "BrowserContext", "launch_backend"]
