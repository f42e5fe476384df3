"""Op traits: facts about an op class that generic passes query instead of op names.

A trait is a marker class listed in an op's `traits`. DCE asks `op.has_trait(Pure)`, the verifier
asks `Terminator` and `IsolatedFromAbove`, CSE asks `Pure` and the op's own `is_deterministic()`.
"""

from __future__ import annotations


class Trait:
    """Base of all traits. Traits are never instantiated; an op lists the classes."""


class Pure(Trait):
    """No effects beyond computing results from operands: removable when unused, mergeable."""


class Terminator(Trait):
    """Must be the last op of its block, and nowhere else."""


class IsolatedFromAbove(Trait):
    """Regions may not read values defined outside the op (functions)."""


class HasSideEffects(Trait):
    """Has an effect that no token expresses (an `assert` can abort the run): never removed."""


class Commutative(Trait):
    """Operand order does not matter (CSE may sort operands)."""


class NoTerminator(Trait):
    """The op's blocks need no terminator (the module body is a plain list of functions)."""
