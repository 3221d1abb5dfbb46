"""The load test's applicants never repeat a citizen ID (a repeat would be refused with 409)."""

from __future__ import annotations

import random
from datetime import date

import pytest

from issuance.tools import testdata


def test_a_citizen_id_drawn_before_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(3)
    ids = [testdata.random_citizen_id(rng) for _ in range(3)]
    draws = iter([ids[0], ids[0], ids[1], ids[0], ids[1], ids[2]])
    monkeypatch.setattr(testdata, "random_citizen_id", lambda *_a, **_k: next(draws))
    seen: set[str] = set()
    drawn = [testdata.fresh_citizen_id(rng, seen, born_before=date(2008, 1, 1)) for _ in range(3)]
    assert drawn == ids
    assert seen == set(ids)


def test_fresh_ids_are_valid_and_distinct() -> None:
    rng, seen = random.Random(5), set[str]()
    drawn = [testdata.fresh_citizen_id(rng, seen, born_before=date(2008, 1, 1)) for _ in range(500)]
    assert len(set(drawn)) == 500
    assert all(d[6:10] < "2008" for d in drawn)
