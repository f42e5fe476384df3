"""Small builders shared by the unit tests (no browser, no sites beyond the shipped ones)."""

from __future__ import annotations

import textwrap
from typing import Any

from agentjit import compile_text
from agentjit.ir import ModuleOp, parse_ir, print_ir, verify
from agentjit.ir.interpreter import AssertionFailed, Interpreter
from agentjit.passes import PassContext
from agentjit.tools import load_site
from agentjit.tools.model import SiteModel


def compile_dsl(source: str, file: str = "<test>") -> ModuleOp:
    """Compile dedented DSL source against the shipped sites and return the verified module."""
    return compile_text(textwrap.dedent(source).lstrip("\n"), file).module


def assert_round_trip(module: ModuleOp, name: str = "<round-trip>") -> None:
    """Printing, parsing and printing again gives the same text, and the parsed module verifies."""
    text = print_ir(module)
    parsed = parse_ir(text, name)
    verify(parsed)
    assert print_ir(parsed) == text, "print -> parse -> print is not the identity"


def assert_changes_once(run_pass: Any, module: ModuleOp) -> None:
    """A pass reports a change on its first run and none on a second (it reached a fixpoint)."""
    first, again = PassContext(), PassContext()
    run_pass.run(module, first)
    assert first.changed
    run_pass.run(module, again)
    assert not again.changed


# ---- running programs on the site model (deterministic tool results, contracts enforced) ----


def run_outcome(
    module: ModuleOp, args: dict[str, Any] | None = None, seed: int = 0
) -> tuple[Any, list]:
    """(result or the failure, tool-call trace) of running `main` on the shipped sites' model."""
    result, interp, _ = run_on_model(module, args, seed)
    return result, interp.trace


def run_on_model(
    module: ModuleOp, args: dict[str, Any] | None = None, seed: int = 0
) -> tuple[Any, Interpreter, SiteModel]:
    """Run `main` on the shipped sites' model: (result or the failure, interpreter, model).

    A `ContractViolation` is not caught: a program that breaks a contract fails the test."""
    sites = [s for s in (load_site(name) for name in module.uses) if s is not None]
    model = SiteModel(sites, seed=seed)
    interp = Interpreter(model.handle)
    try:
        result: Any = interp.run(module, "main", _default_args(module, model, args))
    except (AssertionFailed, ArithmeticError, LookupError, TypeError, ValueError) as exc:
        result = ("raised", type(exc).__name__)
    return result, interp, model


def observe(module: ModuleOp, seeds: Any = range(4)) -> list[tuple[Any, Any]]:
    """(result, server writes per resource) of running `main`, one pair per seed: what a pass
    must leave unchanged."""
    found = []
    for seed in seeds:
        result, _, model = run_on_model(module, seed=seed)
        found.append((result, model.writes))
    return found


def _default_args(module: ModuleOp, model: SiteModel, args: dict[str, Any] | None) -> dict:
    func = module.function("main")
    assert func is not None
    out: dict[str, Any] = {}
    for i, name in enumerate(func.arg_names):
        out[name] = model.value(func.body.block.args[i].type, name, ("arg", i))
    out.update(func.defaults or {})
    out.update(args or {})
    return out
