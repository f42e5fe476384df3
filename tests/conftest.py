"""Test-wide settings: verify the IR after every pass, even passes that report no change;
rewrite the asserts of the shared helpers."""

import os

import pytest

os.environ.setdefault("AGENTJIT_VERIFY_ALL", "1")
# The shared asserts in helpers.py keep pytest's detailed failure messages.
pytest.register_assert_rewrite("tests.helpers")
