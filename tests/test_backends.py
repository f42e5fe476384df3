"""The page primitives on both backends against a real headless Chromium: what each returns,
that clicks and key presses wait for the navigation they start, that waits are bounded and
failures say what was missing where, and that no browser process outlives its browser."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from agentjit.backends.base import launch_backend
from agentjit.backends.chromium import running_chromium_pids
from agentjit.tools.page import ElementNotFound, NavigationError, ScriptError
from tests.browser_fixtures import browser, static_site  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser, static_site):  # noqa: F811
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(static_site + "/index.html")
    yield page
    await context.close()


async def test_reads_text_texts_attribute_url(page, static_site) -> None:  # noqa: F811
    assert await page.text("#title") == "Primitive test page"
    assert await page.texts(".items li") == ["alpha", "beta", "gamma"]
    assert await page.texts(".nothing") == []
    assert await page.attribute("#next", "href") == "second.html?from=link"
    assert await page.attribute("#next", "data-none") is None
    assert await page.url() == static_site + "/index.html"
    assert await page.exists("#q") and not await page.exists("#nope")


async def test_form_submit_by_click_waits_for_the_next_page(page, static_site) -> None:  # noqa: F811
    await page.fill("#q", "hello world")
    await page.select("#kind", "Banana")  # by visible text
    await page.fill("#note", "two\nlines")
    await page.click("#go")
    assert await page.url() == static_site + "/second.html?q=hello+world&kind=b&note=two%0D%0Alines"
    assert await page.text("#title") == "Second page"


async def test_link_click_and_enter_key_navigate(page, static_site) -> None:  # noqa: F811
    await page.click("#next")
    assert await page.text("#query") == "?from=link"
    await page.click("#back")
    await page.fill("#q", "pressed")
    await page.press("#q", "Enter")
    assert (await page.url()).startswith(static_site + "/second.html?q=pressed")


@pytest.mark.parametrize(
    ("selector", "query"),
    [
        ("#script-submit", "?via=form-submit"),  # form.submit() from a click handler
        ("#script-location", "?via=location"),  # location set by a click handler
        ("#inside-button", "?via=nested"),  # a click inside a submit button submits its form
    ],
)
async def test_a_click_that_navigates_by_script_waits_for_the_next_page(
    page,
    static_site,  # noqa: F811
    selector: str,
    query: str,
) -> None:
    await page.goto(static_site + "/clicks.html")
    await page.click(selector)
    assert await page.url() == f"{static_site}/second.html{query}"  # read right after: no wait
    assert await page.text("#query") == query


async def test_clicks_that_do_not_navigate_stay_on_the_page(page, static_site) -> None:  # noqa: F811
    await page.goto(static_site + "/clicks.html")
    await page.click("#box")
    await page.click("#box")
    await page.click("#box")
    assert await page.evaluate("document.querySelector('#box').checked") is True
    assert (await page.url()).endswith("/clicks.html")


async def test_click_without_navigation_and_waiting_for_late_content(page) -> None:
    await page.click("#counter")
    await page.click("#counter")
    assert await page.attribute("#counter", "data-n") == "2"
    await page.wait_for(".arrived", timeout_s=5.0)
    assert await page.text(".arrived") == "here"


async def test_evaluate_returns_json_values(page) -> None:
    assert await page.evaluate("1 + 2") == 3
    assert await page.evaluate("({a: [1, 'x'], b: null})") == {"a": [1, "x"], "b": None}
    assert await page.evaluate("Promise.resolve(7)") == 7
    with pytest.raises(ScriptError, match="boom"):
        await page.evaluate("(() => { throw new Error('boom'); })()")


async def test_missing_elements_fail_within_the_timeout_naming_selector_and_url(page) -> None:
    started = asyncio.get_running_loop().time()
    with pytest.raises(ElementNotFound, match="#nope") as caught:
        await page.click("#nope", timeout_s=0.3)
    assert asyncio.get_running_loop().time() - started < 5.0
    assert caught.value.selector == "#nope" and caught.value.url.endswith("/index.html")
    with pytest.raises(ElementNotFound, match="no option"):
        await page.select("#kind", "Cherry", timeout_s=0.3)


async def test_unreachable_url_is_a_navigation_error(page) -> None:
    with pytest.raises(NavigationError):
        await page.goto("http://127.0.0.1:9/", timeout_s=5.0)


async def test_screenshot_is_a_png(page) -> None:
    assert (await page.screenshot()).startswith(b"\x89PNG")


async def test_pages_of_one_context_share_cookies(browser, static_site) -> None:  # noqa: F811
    context = await browser.new_context()
    try:
        first = await context.new_page()
        await first.goto(static_site + "/index.html")
        await first.evaluate("document.cookie = 'session=abc; path=/'")
        second = await context.new_page()
        await second.goto(static_site + "/second.html")
        assert "session=abc" in await second.evaluate("document.cookie")
    finally:
        await context.close()


@pytest.mark.parametrize("backend", ["cdp", "selenium"])
async def test_no_browser_process_outlives_the_browser(backend, static_site) -> None:  # noqa: F811
    before = running_chromium_pids()
    with pytest.raises(ElementNotFound):
        async with launch_backend(backend) as launched:
            page = await (await launched.new_context()).new_page()
            await page.goto(static_site + "/index.html")
            assert running_chromium_pids() - before, "the browser should be running here"
            await page.click("#nope", timeout_s=0.1)  # fail inside the block
    for _ in range(50):  # processes may take a moment to exit after the group is signalled
        if not running_chromium_pids() - before:
            break
        await asyncio.sleep(0.1)
    assert not running_chromium_pids() - before
