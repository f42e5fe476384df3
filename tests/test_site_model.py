"""`SiteModel`: the dynamic oracle checks contracts concretely, applies their effects, and
synthesises deterministic outputs of the declared types."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from agentjit import compile_file
from agentjit.ir.interpreter import Interpreter
from agentjit.tools import ANY, UNKNOWN, Enum, Page, Site, State, Text, load_site
from agentjit.tools.model import ContractViolation, SiteModel, contains_value
from tests.helpers import compile_dsl

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHOP = load_site("shop")
TRACKER = load_site("tracker")


def shop(seed: int = 0) -> SiteModel:
    return SiteModel([SHOP], seed=seed)


def both(seed: int = 0) -> SiteModel:
    return SiteModel([SHOP, TRACKER], seed=seed)


def listing(model: SiteModel, query: str = "cable", tries: int = 20) -> list[dict[str, Any]]:
    """A non-empty product listing (searching again until the synthetic page lists something)."""
    for i in range(tries):
        model.handle("shop.search", {"query": f"{query} {i}"})
        products = model.handle("shop.list_products", {})
        if products:
            return products
    raise AssertionError("no listing was ever non-empty")


# ---- state and requires ---------------------------------------------------------------------


def test_starts_from_each_sites_start_state() -> None:
    model = both()
    assert model.state["shop.page"] is UNKNOWN
    assert model.state["shop.basket"] is UNKNOWN
    assert model.state["tracker.logged_in"] is False
    assert model.calls == [] and model.writes == {}


def test_list_products_before_a_navigation_is_a_violation() -> None:
    model = shop()
    with pytest.raises(ContractViolation) as info:
        model.handle("shop.list_products", {})
    exc = info.value
    assert (exc.tool, exc.field, exc.actual) == ("shop.list_products", "page", UNKNOWN)
    assert "'category'" in exc.expected and "'search'" in exc.expected
    assert str(exc).startswith("shop.list_products(): page must be one of")
    assert str(exc).endswith("but it is unknown")
    assert model.calls == []  # a refused call is not logged


def test_a_known_but_wrong_value_is_a_violation() -> None:
    model = shop()
    model.handle("shop.go_home", {})
    with pytest.raises(ContractViolation, match="but it is 'home'"):
        model.handle("shop.list_products", {})


def test_ensures_are_applied() -> None:
    model = shop()
    model.handle("shop.open_category", {"name": "Cables"})
    assert model.state["shop.page"] == "category"
    title = listing(model)[0]["title"]
    details = model.handle("shop.product_details", {"title": title})
    assert model.state["shop.page"] == "product"
    assert model.state["shop.product"] == title == details["title"]  # "$title", echoed field
    model.handle("shop.add_to_basket", {"title": title})
    assert model.state["shop.basket"] == "full"
    order = model.handle(
        "shop.checkout",
        {"email": "a@b.c", "name": "A", "address": "1 Road", "city": "X", "postcode": "P"},
    )
    assert set(order) == {"number", "total"}
    assert model.state["shop.page"] == "done"
    assert model.state["shop.basket"] == "empty"
    assert model.state["shop.product"] is UNKNOWN  # ANY in ensures


def test_result_and_param_references() -> None:
    model = SiteModel([TRACKER])
    model.handle("tracker.login", {"user": "u", "password": "p"})
    number = model.handle("tracker.new_ticket", {"summary": "s", "description": "d"})
    assert isinstance(number, int) and model.state["tracker.ticket"] == number  # "$result"
    model.handle("tracker.add_comment", {"id": number, "text": "same ticket"})
    model.handle("tracker.view_ticket", {"id": 4})
    assert model.state["tracker.ticket"] == 4  # "$id"
    with pytest.raises(ContractViolation) as info:
        model.handle("tracker.add_comment", {"id": 5, "text": "wrong ticket"})
    assert (info.value.field, info.value.actual) == ("ticket", 4)
    assert "the argument 'id'" in str(info.value)


def test_enum_requirements_need_login() -> None:
    model = SiteModel([TRACKER])
    with pytest.raises(ContractViolation, match=r"logged_in must be True, but it is False"):
        model.handle("tracker.new_ticket", {"summary": "s", "description": "d"})


# ---- requires_called ------------------------------------------------------------------------


def test_requires_called_needs_a_value_from_an_earlier_output() -> None:
    model = shop()
    model.handle("shop.search", {"query": "cable"})
    with pytest.raises(ContractViolation) as info:
        model.handle("shop.product_details", {"title": "Made-up product"})
    assert (info.value.field, info.value.actual) == ("title", "Made-up product")
    assert "a value read from list_products()" in info.value.expected
    title = listing(model)[-1]["title"]  # found inside a list of records
    model.handle("shop.product_details", {"title": title})


def test_requires_called_accepts_any_named_producer() -> None:
    model = shop()
    title = listing(model)[0]["title"]
    model.handle("shop.product_details", {"title": title})
    model.handle("shop.add_to_basket", {"title": title, "quantity": 2})
    assert model.state["shop.basket"] == "full"


def test_requires_called_ignores_other_tools_outputs() -> None:
    model = shop()
    model.handle("shop.search", {"query": "x"})
    lines = []
    for _ in range(20):
        lines = model.handle("shop.view_basket", {})
        if lines:
            break
    assert lines, "view_basket never returned a line"
    model.handle("shop.search", {"query": "y"})
    with pytest.raises(ContractViolation):  # a basket line's title is not a listing's
        model.handle("shop.product_details", {"title": "not listed " + lines[0]["title"]})


def test_contains_value_searches_nested_values_but_not_bools_as_ints() -> None:
    assert contains_value([{"a": [1, {"b": "x"}]}], "x")
    assert contains_value({"id": 3}, 3)
    assert not contains_value({"flag": True}, 1)
    assert not contains_value([], "x")


# ---- navigation, writes, defaults -----------------------------------------------------------


def test_navigating_another_site_forgets_all_but_its_session_fields() -> None:
    model = both()
    model.handle("tracker.login", {"user": "u", "password": "p"})
    model.handle("tracker.view_ticket", {"id": 2})
    model.handle("shop.search", {"query": "cable"})
    assert model.state["tracker.page"] is UNKNOWN
    assert model.state["tracker.ticket"] is UNKNOWN
    assert model.state["tracker.logged_in"] is True  # a session field survives
    with pytest.raises(ContractViolation, match="page must be 'ticket', but it is unknown"):
        model.handle("tracker.add_comment", {"id": 2, "text": "x"})


def test_writes_are_logged_per_resource_in_order() -> None:
    model = both()
    title = listing(model)[0]["title"]
    model.handle("shop.add_to_basket", {"title": title})
    model.handle("tracker.login", {"user": "u", "password": "p"})
    assert model.writes["shop.basket"] == [("shop.add_to_basket", {"title": title, "quantity": 1})]
    assert [t for t, _ in model.writes["tracker.session"]] == ["tracker.login"]
    assert "shop.orders" not in model.writes


def test_defaults_are_filled_in_and_calls_are_logged() -> None:
    model = SiteModel([TRACKER])
    rows = model.handle("tracker.query_tickets", {})
    (call,) = model.calls
    assert call.tool == "tracker.query_tickets"
    assert call.kwargs == {"status": "!closed", "owner": "", "component": ""}
    assert call.output is rows


def test_unknown_tool_is_a_key_error() -> None:
    with pytest.raises(KeyError, match=r"no tool shop\.teleport"):
        shop().handle("shop.teleport", {})


# ---- synthetic outputs ----------------------------------------------------------------------


def test_outputs_have_the_declared_types() -> None:
    for seed in range(10):
        model = SiteModel([TRACKER], seed=seed)
        for row in model.handle("tracker.query_tickets", {}):
            assert set(row) == {"id", "summary", "status", "owner", "priority", "component"}
            assert isinstance(row["id"], int) and isinstance(row["summary"], str)
        details = model.handle("tracker.view_ticket", {"id": 3})
        assert details["id"] == 3
        assert all(isinstance(c, str) for c in details["comments"])


def test_lists_have_zero_to_four_items_and_values_repeat() -> None:
    sizes = set()
    titles: list[str] = []
    for seed in range(40):
        model = shop(seed)
        model.handle("shop.search", {"query": "cable"})
        products = model.handle("shop.list_products", {})
        sizes.add(len(products))
        titles += [p["title"] for p in products]
    assert sizes == {0, 1, 2, 3, 4}
    assert len(set(titles)) < len(titles) / 4  # a small pool: titles recur


def run_calls(model: SiteModel) -> list[Any]:
    outputs = [model.handle("shop.open_category", {"name": "Books"})]
    for _ in range(3):
        outputs.append(model.handle("shop.list_products", {}))
    outputs.append(model.handle("shop.view_basket", {}))
    return outputs


def test_outputs_are_deterministic_for_a_seed() -> None:
    assert run_calls(shop(7)) == run_calls(shop(7))
    assert len({repr(run_calls(shop(seed))) for seed in range(8)}) > 1
    model = shop(7)
    first, second = run_calls(model)[1:3]
    assert first == second  # an idempotent read of the same page reads the same


def test_outputs_depend_on_the_page_and_the_server_state() -> None:
    model = shop(7)
    listings = set()
    for name in ("Books", "Cables", "Lamps", "Toys", "Mugs"):
        model.handle("shop.open_category", {"name": name})
        listings.add(repr(model.handle("shop.list_products", {})))
    assert len(listings) > 1  # what a read returns depends on the tab's last navigation
    before = model.handle("shop.view_basket", {})
    title = next(p["title"] for p in listing(model))
    model.handle("shop.add_to_basket", {"title": title})
    after = [model.handle("shop.view_basket", {}) for _ in range(2)]
    assert after[0] == after[1] and (after[0] != before or before == [])


def test_set_patterns_pick_deterministically_and_any_forgets() -> None:
    site = Site("toy", state=State(mode=Enum("a", "b", "c"), note=Text()), start={"mode": "a"})

    @site.tool(navigates=True, ensures={"mode": {"b", "c"}, "note": ANY})
    async def toggle(page: Page) -> str:
        """Switch to b or c."""

    @site.tool(requires={"mode": "a"})
    async def only_in_a(page: Page) -> None:
        """Needs mode a."""

    picks = set()
    for seed in range(12):
        model = SiteModel([site], seed=seed)
        model.handle("toy.only_in_a", {})
        model.handle("toy.toggle", {})
        assert model.state["toy.note"] is UNKNOWN
        picks.add(model.state["toy.mode"])
        again = SiteModel([site], seed=seed)
        again.handle("toy.only_in_a", {})
        again.handle("toy.toggle", {})
        assert again.state["toy.mode"] == model.state["toy.mode"]
    assert picks == {"b", "c"}


# ---- as the interpreter's tool handler ------------------------------------------------------


def test_runs_an_example_under_the_interpreter() -> None:
    module = compile_file(ROOT / "examples" / "shop_cheapest_search.agent").module
    for seed in range(5):
        model = shop(seed)
        interp = Interpreter(model.handle)
        result = interp.run(module, "main", {})
        assert isinstance(result, str)
        assert [t for t, _ in interp.trace][:2] == ["shop.search", "shop.list_products"]
        assert [c.tool for c in model.calls] == [t for t, _ in interp.trace]


def test_a_program_calling_too_early_raises_under_the_interpreter() -> None:
    module = compile_dsl(
        """
        use tracker

        def main() -> int:
            rows = query_tickets()
            for t in rows:
                add_comment(id=t.id, text="ping")
            return len(rows)
        """
    )
    seen = []
    for seed in range(10):
        try:
            Interpreter(SiteModel([TRACKER], seed=seed).handle).run(module, "main", {})
        except ContractViolation as exc:
            seen.append(exc.field)
    assert seen and set(seen) == {"logged_in"}  # every non-empty listing hits the first check
