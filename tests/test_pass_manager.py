"""The pass manager: pipeline strings, options, hooks, verification and error annotation."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest

from agentjit.ir import ConstantOp, ModuleOp, PassError, VerifyError, error
from agentjit.passes import REGISTRY, Pass, PassContext, PassManager, PipelineError
from agentjit.passes.manager import parse_pipeline, split_pipeline
from tests.helpers import compile_dsl

PROGRAM = "def main() -> int:\n    x = 2 * 3\n    return x + 1\n"


@dataclass(frozen=True)
class BreaksTheIR(Pass):
    """Test pass: erases the function's terminator, leaving IR that does not verify."""

    name = "breaks-the-ir"

    quiet: bool = False
    """Break the IR but report no change (a buggy pass)."""

    def run(self, module: ModuleOp, ctx: PassContext) -> None:
        module.functions[0].body.block.ops[-1].erase()
        ctx.changed = not self.quiet


@dataclass(frozen=True)
class Raises(Pass):
    """Test pass: raises the exception its options ask for."""

    name = "raises"
    kind: str = "key"
    times: int = 1
    loud: bool = False

    def run(self, module: ModuleOp, ctx: PassContext) -> None:
        if self.kind == "pass-error":
            raise PassError(error("test", "rejected"))
        raise KeyError("boom")


@pytest.fixture
def test_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, "breaks-the-ir", lambda: BreaksTheIR)
    monkeypatch.setitem(REGISTRY, "raises", lambda: Raises)


def test_split_respects_braces() -> None:
    items = split_pipeline("a, b{x=1,y=2} ,c")
    assert [i for i, _ in items] == ["a", "b{x=1,y=2}", "c"]


def test_options_are_typed(test_passes: None) -> None:
    (p,) = parse_pipeline("raises{kind=pass-error,times=3,loud=true}")
    assert p == Raises(kind="pass-error", times=3, loud=True)
    assert p.spec() == "raises{kind=pass-error,times=3,loud=true}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("canonicalise", "unknown pass 'canonicalise'"),
        ("raises{nope=1}", "pass 'raises' has no option 'nope'"),
        ("raises{times=many}", "bad value for raises{times}"),
        ("raises{loud=yes}", "bad value for raises{loud}"),
        ("raises{kind=x", "unbalanced '{'"),
        ("verify}", "unbalanced '}'"),
    ],
)
def test_bad_pipelines_are_located(test_passes: None, text: str, message: str) -> None:
    with pytest.raises(PipelineError) as info:
        parse_pipeline(text)
    diag = info.value.diagnostics[0]
    assert message in diag.message
    assert diag.loc.file == "<pipeline>" and diag.loc.col >= 1
    assert "^" in diag.render()


def test_unknown_pass_suggests_the_closest() -> None:
    with pytest.raises(PipelineError) as info:
        parse_pipeline("canonicalise")
    assert "did you mean 'canonicalize'" in info.value.diagnostics[0].hint


def test_verify_after_each_pass_catches_a_broken_pass(test_passes: None) -> None:
    module = compile_dsl(PROGRAM)
    with pytest.raises(VerifyError) as info:
        PassManager.from_pipeline("canonicalize,breaks-the-ir").run(module)
    assert "after pass: breaks-the-ir" in info.value.diagnostics[0].notes[-1]


def test_a_pass_reporting_no_change_is_verified_only_on_request(test_passes: None) -> None:
    """A pass that leaves `ctx.changed` False is trusted (as in MLIR) unless verify_unchanged
    is set, as the test suite sets it through AGENTJIT_VERIFY_ALL."""
    silent = parse_pipeline("breaks-the-ir{quiet=true}")
    module = compile_dsl(PROGRAM)
    with pytest.raises(VerifyError):
        PassManager(silent, verify_unchanged=True).run(module)
    PassManager(silent, verify_unchanged=False).run(compile_dsl(PROGRAM))


def test_no_verify_skips_it(test_passes: None) -> None:
    module = compile_dsl(PROGRAM)
    PassManager.from_pipeline("breaks-the-ir", verify_each=False).run(module)


def test_errors_keep_their_type_and_name_the_pass(test_passes: None) -> None:
    module = compile_dsl(PROGRAM)
    with pytest.raises(KeyError) as info:
        PassManager.from_pipeline("raises").run(module)
    assert "while running pass: raises" in info.value.__notes__
    with pytest.raises(PassError) as perr:
        PassManager.from_pipeline("raises{kind=pass-error}").run(module)
    assert perr.value.diagnostics[0].notes == ("while running pass: raises{kind=pass-error}",)


def test_print_before_after_and_timing() -> None:
    module = compile_dsl(PROGRAM)
    out = io.StringIO()
    manager = PassManager.from_pipeline(
        "canonicalize,verify",
        print_before={"canonicalize"},
        print_after={"all"},
        time_passes=True,
        out=out,
    )
    manager.run(module)
    text = out.getvalue()
    assert text.count("// ----- IR before canonicalize") == 1
    assert text.count("// ----- IR after") == 2
    assert "pass execution timing" in text and "total" in text
    before = text.split("// ----- IR after canonicalize")[0]
    assert '"dsl.mul"' in before
    after = text.split("// ----- IR after canonicalize")[1]
    assert '"dsl.mul"' not in after and "value = 7" in after


def test_changed_flag_and_analysis_cache() -> None:
    module = compile_dsl(PROGRAM)
    ctx = PassContext()
    ctx.analyses["stale"] = 1
    PassManager.from_pipeline("canonicalize").run(module, ctx)
    assert ctx.changed and not ctx.analyses
    ctx.analyses["fresh"] = 1
    PassManager.from_pipeline("canonicalize").run(module, ctx)
    assert not ctx.changed and ctx.analyses == {"fresh": 1}
    assert sum(isinstance(op, ConstantOp) for op in module.walk()) == 1
