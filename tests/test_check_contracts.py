"""`check-contracts`: violations on every path are errors with repair hints; valid code passes;
the pass changes nothing. Also the contract declarations, the state machine and JSON export."""

from __future__ import annotations

import pathlib

import pytest

from agentjit import compile_file
from agentjit.ir import PassError, print_ir
from agentjit.passes import PassContext, PassManager
from agentjit.tools import UNKNOWN, Enum, Page, Site, State, Text, load_site
from agentjit.tools.statemachine import shortest_calls
from tests.helpers import compile_dsl


def check(source: str) -> PassContext:
    module = compile_dsl(source, "contracts.agent")
    before = print_ir(module)
    ctx = PassContext()
    try:
        PassManager.from_pipeline("check-contracts").run(module, ctx)
    finally:
        assert print_ir(module) == before  # analysis only
    return ctx


def violations(source: str) -> list[tuple[int, str, str, tuple[str, ...]]]:
    with pytest.raises(PassError) as info:
        check(source)
    return [(d.loc.line, d.message, d.hint, d.notes) for d in info.value.diagnostics]


def test_valid_shop_program_passes() -> None:
    check(
        """
        use shop

        def main() -> str:
            search(query="cable")
            items = list_products()
            best = min(items, key=lambda p: p.price)
            add_to_basket(title=best.title)
            lines = view_basket()
            return best.title
        """
    )


def test_call_before_navigation_names_state_origin_and_repair() -> None:
    ((line, message, hint, notes),) = violations(
        "use shop\n\ndef main() -> int:\n    return len(list_products())\n"
    )
    assert line == 4
    assert "list_products() requires page to be one of 'category', 'search'" in message
    assert "may be unknown" in message
    assert notes[0] == (
        "page = unknown (no tool has established it on this path) comes from the "
        "state of a fresh tab"
    )
    assert hint.startswith("call open_category first; tools callable here: go_home,")


def test_branches_are_joined() -> None:
    ((line, message, _, notes),) = violations(
        """
        use shop

        def main(c: bool) -> int:
            if c:
                search(query="x")
            else:
                go_home()
            return len(list_products())
        """
    )
    assert line == 8 and "may be 'home'" in message
    assert notes[0] == "page = 'home' comes from go_home at line 7"


def test_loops_reach_a_fixpoint_and_blame_the_previous_iteration() -> None:
    found = violations(
        """
        use shop

        def main() -> int:
            open_category(name="Books")
            n = 0
            for q in ["a", "b"]:
                n += len(list_products())
                d = product_details(title=list_products()[0].title)
            return n
        """
    )
    assert [line for line, *_ in found] == [7, 8]
    assert "may be 'product'" in found[0][1]
    assert "product_details at line 8" in found[0][3][0]


def test_param_patterns_compare_values_structurally() -> None:
    ok = """
        use tracker

        def main() -> int:
            login(user="a", password="b")
            for t in query_tickets():
                view_ticket(id=t.id)
                add_comment(id=t.id, text="seen")
            n = new_ticket(summary="s", description="d")
            add_comment(id=n, text="filed")
            return n
        """
    check(ok)
    bad = violations(
        """
        use tracker

        def main(a: int, b: int) -> None:
            login(user="a", password="b")
            view_ticket(id=a)
            add_comment(id=b, text="x")
        """
    )
    assert "requires ticket to be the argument 'id'" in bad[0][1]
    assert bad[0][2].startswith("call view_ticket or new_ticket with the same id first")


def test_a_previous_iterations_value_does_not_count() -> None:
    found = violations(
        """
        use tracker

        def main() -> None:
            login(user="a", password="b")
            for t in query_tickets():
                if t.priority == "blocker":
                    view_ticket(id=t.id)
                add_comment(id=t.id, text="x")
        """
    )
    assert [line for line, *_ in found] == [8, 8]  # the page and the open ticket
    assert "may be 'query'" in found[0][1] or "may be 'query'" in found[1][1]


def test_requires_called_follows_data_from_tool_outputs() -> None:
    found = violations(
        """
        use shop

        def main(title: str) -> None:
            search(query=title)
            add_to_basket(title="made up")
            add_to_basket(title=title)
            first = [p.title for p in list_products() if p.in_stock][0]
            add_to_basket(title=first)
        """
    )
    assert [line for line, *_ in found] == [5, 6]
    assert "but it may be a literal" in found[0][1]
    assert "but it may be a parameter of the program" in found[1][1]


def test_navigating_another_site_keeps_only_session_fields() -> None:
    found = violations(
        """
        use shop
        use tracker

        def main() -> None:
            login(user="a", password="b")
            open_category(name="Cables")
            n = new_ticket(summary="s", description="d")
            items = list_products()
        """
    )
    assert [line for line, *_ in found] == [8]  # login survived; the shop page did not


def test_warnings_for_unread_writes_and_dead_asserts() -> None:
    ctx = check(
        """
        use shop

        def main() -> None:
            open_category(name="x")
            add_to_basket(title=list_products()[0].title)
            assert False, "stop"
            go_home()
        """
    )
    assert sorted(d.code for d in ctx.warnings) == ["dead-code", "unread-write"]


def test_contracts_are_validated_at_declaration() -> None:
    site = Site("t", state=State(page=Enum("a", "b"), item=Text()))
    with pytest.raises(ValueError, match="unknown state field 'pgae'"):
        site.tool(requires={"pgae": "a"})(_tool)
    with pytest.raises(ValueError, match="'c' is not one of"):
        site.tool(ensures={"page": "c"})(_tool)
    with pytest.raises(ValueError, match="'\\$nope' is not a parameter"):
        site.tool(ensures={"item": "$nope"})(_tool)
    with pytest.raises(ValueError, match="requires_called names unknown parameter"):
        site.tool(requires_called={"zzz": "other"})(_tool)


async def _tool(page: Page, name: str) -> None:
    """A test tool."""


def test_state_machine_and_schema_export() -> None:
    shop, tracker = load_site("shop"), load_site("tracker")
    assert shop is not None and tracker is not None
    assert shortest_calls(shop, shop.start_state(), {"basket": "full"}) == [
        "open_category",
        "add_to_basket",
    ]
    assert shortest_calls(
        tracker, tracker.start_state(), {"logged_in": True, "page": "ticket"}
    ) == [
        "login",
        "view_ticket",
    ]
    assert shortest_calls(shop, {"page": "home", "basket": UNKNOWN}, {}) == []
    schema = shop.tools["add_to_basket"].schema()
    assert schema["parameters"]["required"] == ["title"]
    assert schema["requires"] == {"page": ["category", "product", "search"]}
    assert schema["requires_called"] == {"title": ["list_products", "product_details"]}


def test_use_resolves_a_site_by_module_path(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "extra_sites"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "wiki.py").write_text(
        "from agentjit.tools import Enum, Page, Site, State\n"
        'site = Site("wiki", state=State(page=Enum("home", "article")))\n'
        '@site.tool(navigates=True, ensures={"page": "article"})\n'
        "async def open_article(page: Page, title: str) -> None: ...\n"
        '@site.tool(reads_page=True, requires={"page": "article"})\n'
        "async def article_text(page: Page) -> str: ...\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    check(
        "use extra_sites.wiki\n\ndef main() -> str:\n    open_article(title='X')\n"
        "    return article_text()\n"
    )
    found = violations("use extra_sites.wiki\n\ndef main() -> str:\n    return article_text()\n")
    assert "wiki.article_text() requires page" in found[0][1]


EXAMPLES = sorted((pathlib.Path(__file__).parent.parent / "examples").glob("*.agent"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_satisfies_its_contracts(path: pathlib.Path) -> None:
    module = compile_file(path).module
    PassManager.from_pipeline("check-contracts").run(module, PassContext())
