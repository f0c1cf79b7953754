"""``parse_ids``: canonical ids only, each once, first seen first; the same answers from its memo."""

import pytest

from boundaries._kernel import ids
from boundaries._kernel.ids import MAX_ID, parse_ids


class Text(str):
    pass


def test_canonical_ids_only_each_once_in_order() -> None:
    values: list[object] = [
        "12",
        "007",
        "0",
        "12",
        "",
        "-1",
        "+5",
        " 5",
        "5_0",
        "١٢",
        str(MAX_ID),
        str(MAX_ID + 1),
        "1" * 20,
        12,
        None,
        ["3"],
        Text("44"),
        "9",
    ]
    expected = [12, 0, MAX_ID, 44, 9]
    assert parse_ids(values) == expected
    assert parse_ids(values) == expected  # again, answered by the memo where it can


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "_PARSED", {})
    monkeypatch.setattr(ids, "_PARSED_MAX", 4)
    assert parse_ids([str(i) for i in range(1, 11)]) == list(range(1, 11))
    assert len(ids._PARSED) <= 4
    assert parse_ids(["010", "10"]) == [10]
