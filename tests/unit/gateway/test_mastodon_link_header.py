"""The Mastodon Link header (paging.py) is written from the request's scope: the query the client
sent kept as it came when it is plain, encoded again when it is not (nothing of it may break the
header's ``<...>; rel=...`` syntax), and the paging bounds it had replaced, however spelled."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from litestar import Litestar, Request

from twitterclone.gateway.mastodon.paging import cursor_links, id_links, offset_links

APP = Litestar()


def request(query: bytes, path: str = "/api/v1/timelines/home", host: bytes = b"social.example") -> Any:
    return Request(
        {  # type: ignore[arg-type]
            "type": "http",
            "app": APP,
            "litestar_app": APP,
            "method": "GET",
            "scheme": "https",
            "server": ("127.0.0.1", 8000),
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "headers": [(b"host", host)],
            "state": {},
        }
    )


def links(header: dict[str, str]) -> list[tuple[str, list[tuple[str, str]], str]]:
    """Each link of a Link header: its URL without the query, the query's pairs, its rel."""
    out = []
    for part in header["Link"].split(", <"):
        url, _, rel = part.lstrip("<").partition(">; ")
        split = urlsplit(url)
        out.append((f"{split.scheme}://{split.netloc}{split.path}", parse_qsl(split.query), rel))
    return out


def test_next_comes_first_and_the_bounds_are_replaced() -> None:
    header = id_links(request(b"limit=20&max_id=900&since_id=5&min_id=7"), ["800", "700"])
    assert links(header) == [
        ("https://social.example/api/v1/timelines/home", [("limit", "20"), ("max_id", "700")], 'rel="next"'),
        ("https://social.example/api/v1/timelines/home", [("limit", "20"), ("min_id", "800")], 'rel="prev"'),
    ]
    assert id_links(request(b"limit=20"), ["1"], more=False)["Link"].count("rel=") == 1
    assert id_links(request(b"limit=20"), []) == {}


def test_a_plain_query_is_kept_as_the_client_wrote_it() -> None:
    header = id_links(request(b"types[]=mention&types%5B%5D=favourite&limit=5"), ["9", "8"])
    assert header["Link"].startswith(
        "<https://social.example/api/v1/timelines/home?types[]=mention&types%5B%5D=favourite&limit=5&max_id=8>"
    )


@pytest.mark.parametrize("bound", [b"max%5Fid", b"max_id", b"min%5fid", b"since_id"])
def test_a_bound_is_dropped_however_it_is_spelled(bound: bytes) -> None:
    ((_, pairs, _), _) = links(id_links(request(b"limit=2&" + bound + b"=1"), ["9", "8"]))
    assert [k for k, _ in pairs].count("max_id") == 1
    assert {k for k, _ in pairs} <= {"limit", "max_id"}


@pytest.mark.parametrize("query", [b"q=a>b", b"q=x,y;z", b'q="<script>"', b"q=caf\xc3\xa9 x"])
def test_an_unusual_query_is_encoded_again_and_cannot_break_the_header(query: bytes) -> None:
    header = id_links(request(query), ["9", "8"])["Link"]
    for url in (part.partition(">")[0].lstrip("<") for part in header.split(", <")):
        assert not set(url) & set('<>",; ')
    (_, pairs, _), _ = links({"Link": header})
    assert pairs[0][0] == "q"


def test_cursor_and_offset_links() -> None:
    header = cursor_links(request(b"limit=10&max_id=old"), "a/b+c=")
    assert links(header) == [
        (
            "https://social.example/api/v1/timelines/home",
            [("limit", "10"), ("max_id", "a/b+c=")],
            'rel="next"',
        )
    ]
    assert cursor_links(request(b""), None) == {}
    header = offset_links(request(b"offset=20&limit=10", path="/api/v1/trends/tags"), 20, 10, True)
    assert [(pairs, rel) for _, pairs, rel in links(header)] == [
        ([("limit", "10"), ("offset", "30")], 'rel="next"'),
        ([("limit", "10"), ("offset", "10")], 'rel="prev"'),
    ]
