"""The tests' FakeEngine is an EngineAPI: every member, with the same parameters, so unit
tests of lifecycle and doctor exercise the calls the real engines answer."""

from __future__ import annotations

import inspect

from compose_cilo.engine.api import EngineAPI
from tests.fakes import FakeEngine


def test_the_fake_engine_has_every_member_of_engine_api_with_its_parameters() -> None:
    members = [m for m in vars(EngineAPI) if not m.startswith("_") and callable(getattr(EngineAPI, m))]
    assert len(members) >= 15
    for name in members:
        want = inspect.signature(getattr(EngineAPI, name))
        got = inspect.signature(getattr(FakeEngine, name))
        assert list(got.parameters) == list(want.parameters), name
        assert [p.kind for p in got.parameters.values()] == [p.kind for p in want.parameters.values()], name
    assert hasattr(FakeEngine(), "opts")
