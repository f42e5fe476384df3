"""The Selenium backend: `Page` over WebDriver, one session per page.

    async with SeleniumBrowser.launch() as browser:            # local chromedriver
        page = await (await browser.new_context()).new_page()
    SeleniumBrowser.launch(remote_url="http://127.0.0.1:4444")  # a Selenium Grid

A WebDriver session executes one command at a time, so every page is its own session with its
own worker thread, and pages of one context get the cookies of the context's first page (a login
carries over) when they are created. Local sessions always name Debian's chromedriver and
Chromium explicitly: Selenium Manager never runs. Clicks, typing and navigation use WebDriver's
own commands (trusted input, and WebDriver waits for the navigation a click starts); reads of many
elements use one script.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import (
    JavascriptException,
    NoSuchElementException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from agentjit.backends.base import Launching
from agentjit.backends.chromium import HEADLESS_FLAGS, chromedriver_binary, chromium_binary
from agentjit.backends.page_scripts import READ_TEXTS
from agentjit.processes import stop_group
from agentjit.tools.page import (
    ElementNotFound,
    NavigationError,
    PageError,
    PageTimeout,
    ScriptError,
)

T = TypeVar("T")

SLACK_S = 5.0
"""How much longer than its own timeout a command may take before the page gives up on it."""

NET_ERROR_PAGE = "return !!document.body && document.body.classList.contains('neterror');"
"""True on the page Chromium shows in place of one it could not load."""

KEYS = {"Enter": Keys.ENTER, "Tab": Keys.TAB, "Escape": Keys.ESCAPE}


class SeleniumPage:
    """One WebDriver session; its blocking calls run on the session's own thread."""

    def __init__(self, driver: webdriver.Remote, profile: str | None) -> None:
        self.driver = driver
        self.profile = profile
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webdriver")

    async def _run(self, fn: Callable[[], T], timeout_s: float, what: str) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._thread, fn), timeout_s)
        except TimeoutError as e:
            raise PageTimeout(f"{what}: no answer from WebDriver in {timeout_s:.1f} s") from e
        except TimeoutException as e:
            raise PageTimeout(f"{what}: {e.msg}") from e
        except JavascriptException as e:
            raise ScriptError(f"{what}: script failed: {e.msg}") from e
        except WebDriverException as e:
            raise PageError(f"{what}: {e.msg}") from e

    def _element(self, selector: str, timeout_s: float) -> WebElement:
        try:
            return WebDriverWait(self.driver, timeout_s, poll_frequency=0.02).until(
                lambda d: d.find_element(By.CSS_SELECTOR, selector)
            )
        except TimeoutException as e:
            raise ElementNotFound(
                f"no element matches {selector!r} after {timeout_s:.1f} s",
                url=self.driver.current_url,
                selector=selector,
            ) from e

    async def _on_element(
        self, selector: str, timeout_s: float, action: Callable[[WebElement], T], what: str
    ) -> T:
        return await self._run(
            lambda: action(self._element(selector, timeout_s)), timeout_s + SLACK_S, what
        )

    async def goto(self, url: str, timeout_s: float = 10.0) -> None:
        def load() -> None:
            self.driver.set_page_load_timeout(timeout_s)
            try:
                self.driver.get(url)
            except WebDriverException as e:
                if isinstance(e, TimeoutException):
                    raise
                raise NavigationError(f"cannot open {url}: {e.msg}", url=url) from e
            # WebDriver reports a network failure as a successful load of Chromium's error page.
            if self.driver.execute_script(NET_ERROR_PAGE):
                raise NavigationError(f"cannot open {url}: the page failed to load", url=url)

        await self._run(load, timeout_s + SLACK_S, f"goto {url}")

    def _settle(self) -> None:
        """Let a navigation the last input scheduled begin, then wait for it to load."""
        # A form submit is scheduled, not started, when click() returns; after one macrotask
        # it has started, and chromedriver waits for a pending navigation before a command.
        with contextlib.suppress(WebDriverException):  # the page unloaded: it started
            self.driver.execute_async_script("setTimeout(arguments[arguments.length - 1], 0)")
        self.driver.execute_script("return document.readyState")

    async def click(self, selector: str, timeout_s: float = 5.0) -> None:
        def click(el: WebElement) -> None:
            el.click()
            self._settle()

        await self._on_element(selector, timeout_s, click, f"click {selector}")

    async def fill(self, selector: str, text: str, timeout_s: float = 5.0) -> None:
        def type_text(el: WebElement) -> None:
            el.clear()
            el.send_keys(text)

        await self._on_element(selector, timeout_s, type_text, f"fill {selector}")

    async def select(self, selector: str, value: str, timeout_s: float = 5.0) -> None:
        def choose(el: WebElement) -> None:
            menu = Select(el)
            try:
                menu.select_by_value(value)
            except NoSuchElementException:
                try:
                    menu.select_by_visible_text(value)
                except NoSuchElementException as e:
                    known = ", ".join(o.get_attribute("value") or "" for o in menu.options)
                    raise ElementNotFound(
                        f"{selector} has no option {value!r} (options: {known})",
                        url=self.driver.current_url,
                        selector=selector,
                    ) from e

        await self._on_element(selector, timeout_s, choose, f"select {selector}")

    async def press(self, selector: str, key: str, timeout_s: float = 5.0) -> None:
        if key not in KEYS and len(key) != 1:
            raise ValueError(f"unknown key {key!r}; expected one character or {sorted(KEYS)}")
        keys = KEYS.get(key, key)

        def press(el: WebElement) -> None:
            el.send_keys(keys)
            self._settle()

        await self._on_element(selector, timeout_s, press, f"press {key}")

    async def text(self, selector: str, timeout_s: float = 5.0) -> str:
        return await self._on_element(
            selector, timeout_s, lambda el: el.text.strip(), f"text {selector}"
        )

    async def texts(self, selector: str, timeout_s: float = 5.0) -> list[str]:
        script = f"return ({READ_TEXTS})(arguments[0]);"
        return list(
            await self._run(
                lambda: self.driver.execute_script(script, selector), timeout_s, "texts"
            )
        )

    async def attribute(self, selector: str, name: str, timeout_s: float = 5.0) -> str | None:
        return await self._on_element(
            selector, timeout_s, lambda el: el.get_dom_attribute(name), f"attribute {selector}"
        )

    async def exists(self, selector: str) -> bool:
        found = await self._run(
            lambda: self.driver.find_elements(By.CSS_SELECTOR, selector), SLACK_S, "exists"
        )
        return bool(found)

    async def wait_for(self, selector: str, timeout_s: float = 5.0) -> None:
        await self._on_element(selector, timeout_s, lambda el: None, f"wait for {selector}")

    async def url(self) -> str:
        return await self._run(lambda: self.driver.current_url, SLACK_S, "url")

    async def evaluate(self, script: str, timeout_s: float = 5.0) -> Any:
        """The JSON value of a JavaScript expression (WebDriver awaits a promise)."""

        def run() -> Any:
            self.driver.set_script_timeout(timeout_s)
            return self.driver.execute_script(f"return ({script});")

        return await self._run(run, timeout_s + SLACK_S, "evaluate")

    async def screenshot(self) -> bytes:
        return await self._run(self.driver.get_screenshot_as_png, 20.0, "screenshot")

    async def cookies_via_cdp(self) -> list[dict[str, Any]]:
        result = await self._run(
            lambda: self.driver.execute_cdp_cmd("Network.getAllCookies", {}), 5.0, "cookies"
        )
        return list(result.get("cookies", []))

    async def set_cookies_via_cdp(self, cookies: list[dict[str, Any]]) -> None:
        await self._run(
            lambda: self.driver.execute_cdp_cmd("Network.setCookies", {"cookies": cookies}),
            5.0,
            "set cookies",
        )

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._run(self.driver.quit, 15.0, "quit")
        self._thread.shutdown(wait=False)
        service = getattr(self.driver, "service", None)
        if service is not None and service.process is not None:
            # quit() normally ends chromedriver and its Chromium; a hung one is killed whole.
            await asyncio.to_thread(stop_group, service.process, 5.0)
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)


class SeleniumContext:
    """Pages sharing cookies: each new page starts with the first page's cookies."""

    def __init__(self, browser: SeleniumBrowser) -> None:
        self.browser = browser
        self.pages: list[SeleniumPage] = []

    async def new_page(self) -> SeleniumPage:
        page = await self.browser.new_session()
        if self.pages and self.browser.remote_url == "":
            # Chromium's own cookie calls copy every domain at once, without visiting each.
            cookies = await self.pages[0].cookies_via_cdp()
            if cookies:
                await page.set_cookies_via_cdp(cookies)
        self.pages.append(page)
        return page

    async def close(self) -> None:
        await asyncio.gather(*(page.close() for page in self.pages))
        self.pages.clear()


class SeleniumBrowser:
    """Makes WebDriver sessions: local (chromedriver + Chromium) or on a remote WebDriver URL."""

    name = "selenium"

    def __init__(self, *, headless: bool = True, remote_url: str = "") -> None:
        self.headless = headless
        self.remote_url = remote_url
        self.contexts: list[SeleniumContext] = []

    @classmethod
    def launch(cls, *, headless: bool = True, remote_url: str = "") -> Launching:
        async def start() -> SeleniumBrowser:
            return cls(headless=headless, remote_url=remote_url)

        return Launching(start)

    async def new_context(self) -> SeleniumContext:
        context = SeleniumContext(self)
        self.contexts.append(context)
        return context

    async def new_page(self) -> SeleniumPage:
        if not self.contexts:
            await self.new_context()
        return await self.contexts[0].new_page()

    async def new_session(self, timeout_s: float = 30.0) -> SeleniumPage:
        profile = None if self.remote_url else tempfile.mkdtemp(prefix="agentjit-selenium-")
        options = webdriver.ChromeOptions()
        for flag in HEADLESS_FLAGS:
            if self.headless or not flag.startswith("--headless"):
                options.add_argument(flag)
        if profile:
            options.binary_location = chromium_binary()
            options.add_argument(f"--user-data-dir={profile}")
        try:
            driver = await asyncio.wait_for(
                asyncio.to_thread(self._make_driver, options), timeout_s
            )
        except TimeoutError as e:
            raise PageTimeout(f"no WebDriver session within {timeout_s:.0f} s") from e
        except WebDriverException as e:
            raise PageError(f"cannot start a WebDriver session: {e.msg}") from e
        return SeleniumPage(driver, profile)

    def _make_driver(self, options: webdriver.ChromeOptions) -> webdriver.Remote:
        if self.remote_url:
            return webdriver.Remote(command_executor=self.remote_url, options=options)
        # start_new_session keeps the driver (and its Chromium) out of our terminal's group.
        service = Service(chromedriver_binary(), popen_kw={"start_new_session": True})
        return webdriver.Chrome(service=service, options=options)

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()
        self.contexts.clear()
