"""The agent-loop baseline (`agentjit.agent`): its action grammar and parser, its bounded prompt,
its handling of every kind of bad step (on a toy site with a fake page, no browser), and whole
loops on a real Chromium and a real django-oscar with a scripted model (`ScriptedClient`), the
basket checked in Oscar's database; last, a short loop with the real local model."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

import lark
import pytest

from agentjit.agent import AgentLoop, PromptSettings, Step, action_gbnf, parse_action, run_loop
from agentjit.agent.actions import ActionError
from agentjit.agent.loop import build_messages
from agentjit.planner.endpoint import Endpoint, Message, OpenAiClient
from agentjit.runtime.site_page import SiteBinding, SitePage
from agentjit.tools import Enum, Page, PageError, Site, State, load_site
from agentjit.webapps import AppServer, oscar
from tests import test_runtime_apps
from tests.gbnf_tools import Sampler, read_gbnf, to_lark
from tests.scripted_llm import ScriptedClient

shop = test_runtime_apps.shop  # the django-oscar fixture, one server for this module

try:
    from tests.llm_fixtures import local_llm
except ImportError:  # the local-LLM helper is not there yet
    local_llm = None

SITES = ["shop", "tracker"]


# ---- the grammar ---------------------------------------------------------------------------


def gbnf_to_lark(gbnf: str) -> lark.Lark:
    return lark.Lark(to_lark(read_gbnf(gbnf)), start="g_root", parser="earley", lexer="dynamic")


@pytest.mark.parametrize("name", SITES)
def test_action_grammar_names_every_tool_and_accepts_its_calls(name: str) -> None:
    site = load_site(name)
    gbnf = action_gbnf(site)
    for tool in site.tools:
        assert f'"\\"{tool}\\""' in gbnf
    parser = gbnf_to_lark(gbnf)
    for tool in site.tools.values():
        args = {p.name: _example(p.type) for p in tool.signature.params if p.required}
        parser.parse(json.dumps({"tool": tool.signature.name, "args": args}))
    parser.parse('{"done": {"total": [1, 2.5e3, "x\\"y", null, true]}}')


def _example(t: Any) -> Any:
    return {"str": 'Cables \u00e9 \\ "x"', "int": 7, "float": 2.5, "bool": True}[str(t)]


@pytest.mark.parametrize("name", SITES)
def test_every_reply_the_grammar_allows_is_a_usable_action(name: str) -> None:
    site = load_site(name)
    sampler = Sampler(read_gbnf(action_gbnf(site)), seed=7)
    tools = set()
    for _ in range(300):
        action = parse_action(sampler.sample(), site)
        tools.add("done" if action.done else action.tool)
    assert tools == {*site.tools, "done"}


def test_action_grammar_rejects_what_the_tools_do_not_take() -> None:
    parser = gbnf_to_lark(action_gbnf(load_site("shop")))
    parser.parse('{"tool": "add_to_basket", "args": {"title": "HDMI cable", "quantity": 2}}')
    parser.parse('{"tool":"list_products","args":{}}')
    for bad in (
        '{"tool": "delete_everything", "args": {}}',
        '{"tool": "add_to_basket", "args": {"quantity": 2}}',
        '{"tool": "add_to_basket", "args": {"title": 3}}',
        '{"tool": "add_to_basket", "args": {"title": "x", "colour": "red"}}',
        '{"tool": "list_products", "args": {}} and more',
        '{"done": 1',
    ):
        with pytest.raises(lark.exceptions.LarkError):
            parser.parse(bad)


def test_optional_only_parameters_may_come_in_any_subset() -> None:
    parser = gbnf_to_lark(action_gbnf(load_site("tracker")))
    for args in ({}, {"owner": "bob"}, {"status": "new", "component": "ui"}):
        parser.parse(json.dumps({"tool": "query_tickets", "args": args}))
    with pytest.raises(lark.exceptions.LarkError):
        parser.parse('{"tool": "query_tickets", "args": {"owner": "b",}}')


@pytest.mark.parametrize("name", SITES)
def test_llama_cpp_accepts_the_action_grammar(name: str) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    llama_cpp.LlamaGrammar.from_string(action_gbnf(load_site(name)), verbose=False)


# ---- the lenient parser --------------------------------------------------------------------


def test_parser_finds_the_first_json_object_in_prose() -> None:
    shop_site = load_site("shop")
    reply = 'I will open it.\n```json\n{"tool": "open_category", "args": {"name": "Cables"}}\n```'
    action = parse_action(reply, shop_site)
    assert (action.tool, action.args, action.done) == ("open_category", {"name": "Cables"}, False)
    assert parse_action('{"tool": "view_basket"}', shop_site).args == {}
    assert parse_action('{x} {"done": [1, 2]}', shop_site).answer == [1, 2]
    assert parse_action('{"done": null}', shop_site).done
    end = parse_action('{"tool": "done", "args": {"answer": 0}}', shop_site)
    assert end.done and end.answer == 0
    tracker = load_site("tracker")
    assert parse_action('{"tool": "view_ticket", "args": {"id": 3}}', tracker).args == {"id": 3}


@pytest.mark.parametrize(
    "reply, says",
    [
        ("I am not sure what to do.", "no JSON object"),
        ('{"tool": "delete_everything", "args": {}}', "has no tool 'delete_everything'"),
        ('{"tool": "add_to_basket", "args": {}}', "needs title"),
        ('{"tool": "add_to_basket", "args": {"title": "x", "qty": 1}}', "no parameter qty"),
        ('{"tool": "add_to_basket", "args": {"title": 5}}', "title must be str"),
        ('{"tool": "add_to_basket", "args": {"title": "x", "quantity": true}}', "must be int"),
        ('{"tool": "search", "args": ["Cables"]}', "must be a JSON object"),
        ('{"args": {}}', 'neither "tool" nor "done"'),
    ],
)
def test_parser_says_what_is_wrong(reply: str, says: str) -> None:
    with pytest.raises(ActionError, match=re.escape(says)):
        parse_action(reply, load_site("shop"))


# ---- the prompt ----------------------------------------------------------------------------


def _step(i: int, size: int) -> Step:
    output = [{"title": f"Product {i}-{k}", "price": k + 0.5} for k in range(size)]
    text = json.dumps(output)
    page = f'Page: http://shop.test/p/{i}\nState: {{"page": "category"}}'
    return Step("list_products", {}, text, 1.0, 0.1, None, "", output, page)


def test_prompt_stays_bounded_however_many_steps() -> None:
    shop_site = load_site("shop")
    settings = PromptSettings()
    sizes = []
    for n in (1, 5, 8, 9, 20, 200):
        steps = [_step(i, 100) for i in range(n)]
        messages = build_messages("Find a cable", shop_site, "Page: about:blank", steps, settings)
        sizes.append(sum(len(m["content"]) for m in messages))
        assert [m["role"] for m in messages[:2]] == ["system", "user"]
        assert all(a["role"] != b["role"] for a, b in itertools.pairwise(messages[1:]))
        assert (
            "Find a cable" in messages[0]["content"] and "add_to_basket" in messages[0]["content"]
        )
        assert messages[-1]["content"].endswith("Your next action (one JSON object):")
        # The latest result is shown longer than the older ones.
        assert len(messages[-1]["content"]) > settings.latest_chars
    assert max(sizes) <= settings.max_chars and sizes[1] > sizes[0]
    # A long result pushes earlier turns out of the window; short ones all stay.
    steps = [_step(i, 1) for i in range(30)]
    messages = build_messages("t", shop_site, "Page: about:blank", steps, settings)
    assert len(messages) == 2 + 2 * settings.window


def test_older_steps_shrink_to_one_line_each() -> None:
    steps = [_step(i, 2) for i in range(12)]
    messages = build_messages("t", load_site("shop"), "Page: about:blank", steps, PromptSettings())
    opening = messages[1]["content"]
    assert opening.startswith("Task: t\nEarlier steps:\n1. ") and "4. " in opening
    assert "5. " not in opening  # steps 5-12 are the window, as turns
    assert len(messages) == 2 + 2 * 8


# ---- the loop on a toy site, no browser ----------------------------------------------------

toy = Site(
    "toy",
    base_url="http://toy.test",
    state=State(page=Enum("home", "list")),
    doc="A toy site for the agent loop's tests.",
)


@dataclass(frozen=True)
class Item:
    name: str
    size: int


@toy.observe
async def observe_toy(page: Page) -> dict[str, Any]:
    return {"page": "list" if (await page.url()).endswith("/list") else "home"}


@toy.tool(navigates=True, idempotent=True, ensures={"page": "list"})
async def open_list(page: Page) -> None:
    """Open the list."""
    await page.goto("/list")


@toy.tool(reads_page=True, requires={"page": "list"})
async def items(page: Page, count: int = 3) -> list[Item]:
    """The items on the list."""
    return [Item(f"item {k}", k) for k in range(count)]


@toy.tool(requires_called={"name": "items"})
async def pick(page: Page, name: str) -> str:
    """Pick an item by name."""
    return name.upper()


@toy.tool()
async def broken(page: Page) -> None:
    """Always fails."""
    raise PageError("no such button", url=await page.url(), selector="#go")


@toy.tool()
async def hang(page: Page) -> None:
    """Never finishes."""
    await asyncio.sleep(30)


@toy.tool(navigates=True)
async def leave(page: Page) -> None:
    """Tries to go to another site."""
    await page.goto("http://elsewhere.test/")


@toy.tool(navigates=True, ensures={"page": "list"})
async def lie(page: Page) -> None:
    """Promises the list, stays home."""


class FakePage:
    """Just enough of a `Page` for the toy site: a URL that `goto` changes."""

    def __init__(self) -> None:
        self.at = "about:blank"
        self.visited: list[str] = []

    async def goto(self, url: str, timeout_s: float = 10.0) -> None:
        self.at = url
        self.visited.append(url)

    async def url(self) -> str:
        return self.at


def toy_loop(client: ScriptedClient, **options: Any) -> tuple[AgentLoop, FakePage]:
    fake = FakePage()
    page = SitePage(fake, SiteBinding.of(toy))  # type: ignore[arg-type]
    return AgentLoop("Pick the biggest item", toy, page, client, **options), fake


def call(tool: str, **args: Any) -> str:
    return json.dumps({"tool": tool, "args": args})


@pytest.mark.asyncio
async def test_every_kind_of_bad_step_is_fed_back_and_the_loop_goes_on() -> None:
    client = ScriptedClient(
        [
            "Let me think about it.",  # no JSON
            call("teleport"),  # unknown tool
            call("items"),  # contract: needs the list page
            call("lie"),  # the page breaks the tool's `ensures`
            call("open_list"),
            call("items", count="many"),  # wrong type
            call("items", count=2),
            call("pick", name="item 9"),  # requires_called: not a value items() returned
            call("broken"),  # the tool raises a PageError
            call("hang"),  # the tool times out
            call("leave"),  # the origin fence refuses
            call("pick", name="item 1"),
            '{"done": "ITEM 1"}',
        ]
    )
    loop, fake = toy_loop(client, step_timeout_s=0.2)
    done, answer, reason = await loop.run()
    assert (done, answer, reason) == (True, "ITEM 1", "done")
    errors = [s.error or "" for s in loop.steps]
    expected = [
        "no JSON object",
        "has no tool 'teleport'",
        "items needs page 'list', but the page shows page = 'home'",
        "after lie, the page shows page = 'home', but lie promises page 'list'",
        "",
        "count must be int",
        "",
        "must be a value returned by items()",
        "PageError: no such button",
        "did not finish within 0.2 s",
        "may not navigate to http://elsewhere.test/",
        "",
        "",
    ]
    assert len(errors) == len(expected)
    for error, says in zip(errors, expected, strict=True):
        assert (says in error) if says else error == "", (error, says)
    assert [s.action for s in loop.steps[:3]] == ["invalid", "invalid", "items"]
    assert loop.steps[6].output == [{"name": "item 0", "size": 0}, {"name": "item 1", "size": 1}]
    assert loop.steps[11].output == "ITEM 1"
    assert "http://elsewhere.test/" not in fake.visited
    # Each error reached the model as the next prompt's latest result.
    for i, says in enumerate(expected[:-1]):
        assert says in client.sent[i + 1][-1]["content"]
    assert loop.llm_calls == client.calls == len(loop.steps) == 13
    assert all(r["grammar"] and '"\\"pick\\""' in r["grammar"] for r in client.requests)


@pytest.mark.asyncio
async def test_the_step_limit_stops_a_model_that_never_finishes() -> None:
    client = ScriptedClient([], then=call("open_list"))
    loop, _ = toy_loop(client, max_steps=5, grammar=False)
    assert await loop.run() == (False, None, "step limit")
    assert len(loop.steps) == loop.llm_calls == 5
    assert all(r["grammar"] is None for r in client.requests)


@pytest.mark.asyncio
async def test_a_dead_endpoint_ends_the_loop_with_a_reason() -> None:
    loop, _ = toy_loop(ScriptedClient([call("open_list")]))
    done, _, reason = await loop.run()
    assert not done and reason.startswith("endpoint error:") and len(loop.steps) == 1


# ---- real browser, real django-oscar, scripted model ---------------------------------------


def latest_result(messages: list[Message]) -> Any:
    """The JSON result the loop showed in its latest turn."""
    content = messages[-1]["content"]
    return json.JSONDecoder().raw_decode(content, content.index("Result: ") + len("Result: "))[0]


def cheapest_in_stock(messages: list[Message]) -> str:
    products = [p for p in latest_result(messages) if p["in_stock"]]
    best = min(products, key=lambda p: (p["price"], p["title"]))
    return call("add_to_basket", title=best["title"])


def new_lines(db: Any, before: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(x["title"], x["quantity"]) for x in oscar.basket_lines(db) if x not in before]


@pytest.mark.browser
@pytest.mark.webapp
@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("backend", ["cdp", "selenium"])
async def test_scripted_loop_puts_the_cheapest_cable_in_the_basket(
    backend: str, shop: AppServer, tmp_path: Any
) -> None:
    db = shop.extra["db"]
    before = oscar.basket_lines(db)
    client = ScriptedClient(
        [
            call("open_category", name="Cables"),
            call("list_products"),
            cheapest_in_stock,
            '{"done": "added"}',
        ]
    )
    task = "Put the cheapest in-stock cable in the basket"
    trace = tmp_path / "loop.json"
    report = await run_loop(
        task, load_site("shop"), client, backend=backend, base_url=shop.url, trace=trace
    )
    assert report.done and report.answer == "added" and report.reason == "done"
    assert [s.error for s in report.steps] == [None] * 4
    assert report.llm_calls == len(report.steps) == client.calls == 4
    assert new_lines(db, before) == [(oscar.cheapest_in_stock(db, "Cables"), 1)]
    assert report.steps[2].page_text.endswith('"basket": "full"}')
    assert report.prompt_tokens > 0 and report.seconds > report.tool_seconds > 0
    assert "add_to_basket" in trace.read_text()
    assert "done after 4 steps (0 with errors), 4 LLM calls" in report.summary()


@pytest.mark.browser
@pytest.mark.webapp
@pytest.mark.asyncio(loop_scope="module")
async def test_bad_actions_on_oscar_are_fed_back_and_the_loop_recovers(shop: AppServer) -> None:
    db = shop.extra["db"]
    before = oscar.basket_lines(db)
    client = ScriptedClient(
        [
            call("buy_everything"),
            call("list_products"),  # a blank tab is no listing: the contract refuses
            call("open_category", name="Cables"),
            call("add_to_basket", title="Imaginary Cable"),  # never listed: refused
            call("list_products"),
            cheapest_in_stock,
            call("view_basket"),
            '{"done": 1}',
        ]
    )
    report = await run_loop("Buy a cable", load_site("shop"), client, base_url=shop.url)
    errors = [s.error for s in report.steps]
    assert "no tool 'buy_everything'" in errors[0]
    assert "needs page one of 'category', 'search', but the page shows" in errors[1]
    assert "must be a value returned by list_products()" in errors[3]
    assert errors[2] is None and errors[4:] == [None] * 4 and report.done
    assert "list_products needs page" in client.sent[2][-1]["content"]
    title = oscar.cheapest_in_stock(db, "Cables")
    assert report.steps[6].output == [
        {
            "title": title,
            "quantity": 1,
            "price": pytest.approx(
                next(p["price"] for p in oscar.products(db, "Cables") if p["title"] == title)
            ),
        }
    ]
    assert new_lines(db, before) == [(title, 1)]


@pytest.mark.browser
@pytest.mark.webapp
@pytest.mark.asyncio(loop_scope="module")
async def test_step_and_time_limits_on_oscar(shop: AppServer) -> None:
    client = ScriptedClient([], then=call("go_home"))
    report = await run_loop("Wander", load_site("shop"), client, base_url=shop.url, max_steps=3)
    assert (report.done, report.reason, len(report.steps), report.llm_calls) == (
        False,
        "step limit",
        3,
        3,
    )
    assert all(s.error is None and '"page": "home"' in s.page_text for s in report.steps)
    slow = ScriptedClient([], then=call("go_home"), latency_s=0.0)
    report = await run_loop(
        "Wander", load_site("shop"), slow, base_url=shop.url, timeout_s=0.5, max_steps=10_000
    )
    assert not report.done and report.reason.startswith("timeout after 0.5 s")


# ---- the real local model -----------------------------------------------------------------


@pytest.mark.llm
@pytest.mark.browser
@pytest.mark.webapp
@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.skipif(local_llm is None, reason="tests/llm_fixtures.py (local_llm) is missing")
async def test_the_local_model_runs_a_short_loop(shop: AppServer, local_llm: Any) -> None:
    endpoint = Endpoint(local_llm.base_url, local_llm.model, grammar=True)
    report = await run_loop(
        "Put the cheapest in-stock cable in the basket",
        load_site("shop"),
        OpenAiClient(endpoint),
        base_url=shop.url,
        max_steps=4,
        timeout_s=900,
    )
    assert 1 <= len(report.steps) <= 4 and report.llm_calls == len(report.steps)
    assert report.done or report.reason == "step limit"
    # Under the grammar every reply is a usable action.
    assert all(s.action != "invalid" for s in report.steps)
