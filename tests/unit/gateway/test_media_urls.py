"""Signed image URLs (gateway/media_urls.py): one key per deployment, shared by its gateway
processes through a file, stable within an hour, and a rotation that keeps old URLs working."""

from __future__ import annotations

import stat
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from twitterclone.gateway import media_urls
from twitterclone.gateway.media_urls import BUCKET_S, MediaUrls
from twitterclone.identity import MEDIA_URL_KEY, MEDIA_URL_PREVIOUS_KEY, provision


def signed(urls: MediaUrls, media_id: str = "m1", variant: str = "display") -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urls.query(media_id, variant, "u1")).items()}


def check(urls: MediaUrls, q: dict[str, str], media_id: str = "m1", variant: str = "display") -> str | None:
    return urls.viewer(media_id, variant, q.get("v"), q.get("e"), q.get("s"))


def test_processes_of_one_deployment_share_the_key_file(tmp_path: Path) -> None:
    one, two = MediaUrls(tmp_path / "keys"), MediaUrls(tmp_path / "keys")
    q = signed(one)
    assert check(two, q) == "u1"
    key = tmp_path / "keys" / MEDIA_URL_KEY
    assert len(key.read_bytes()) == 32
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    # Another deployment (another key) accepts none of it.
    assert check(MediaUrls(tmp_path / "other"), q) is None


def test_provision_makes_the_key_before_the_processes_start(tmp_path: Path) -> None:
    written = provision(tmp_path, services=["gateway"])
    assert tmp_path / MEDIA_URL_KEY in written
    before = (tmp_path / MEDIA_URL_KEY).read_bytes()
    provision(tmp_path, services=["gateway"])
    assert (tmp_path / MEDIA_URL_KEY).read_bytes() == before  # made once, then kept


def test_a_url_is_stable_within_the_hour_and_lives_one_to_two_hours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = MediaUrls(tmp_path)
    start = 1_800_000_000 // BUCKET_S * BUCKET_S
    monkeypatch.setattr(media_urls, "now", lambda: float(start + 10))
    first = signed(urls)
    monkeypatch.setattr(media_urls, "now", lambda: float(start + BUCKET_S - 1))
    assert signed(urls) == first
    assert int(first["e"]) == start + 2 * BUCKET_S
    assert check(urls, first) == "u1"
    monkeypatch.setattr(media_urls, "now", lambda: float(start + 2 * BUCKET_S))
    assert check(urls, first) is None


def test_each_part_is_signed(tmp_path: Path) -> None:
    urls = MediaUrls(tmp_path)
    q = signed(urls)
    assert check(urls, q, media_id="m2") is None
    assert check(urls, q, variant="original") is None
    assert check(urls, {**q, "v": "u2"}) is None
    assert check(urls, {**q, "e": str(int(q["e"]) + 1)}) is None
    assert check(urls, {**q, "e": "²"}) is None  # a digit to str.isdigit, not to int()
    assert check(urls, {**q, "s": q["s"][:-1]}) is None
    assert check(urls, {k: v for k, v in q.items() if k != "v"}) is None


def test_a_rotation_keeps_accepting_the_previous_key_but_signs_with_the_new(tmp_path: Path) -> None:
    old = MediaUrls(tmp_path)
    issued = signed(old)
    (tmp_path / MEDIA_URL_KEY).rename(tmp_path / MEDIA_URL_PREVIOUS_KEY)
    rotated = MediaUrls(tmp_path)  # a gateway started after the rotation
    assert check(rotated, issued) == "u1"
    fresh = signed(rotated)
    assert fresh["s"] != issued["s"]
    assert check(rotated, fresh) == "u1"
    assert check(old, fresh) is None  # signed with the new key, not the old
    (tmp_path / MEDIA_URL_PREVIOUS_KEY).unlink()
    assert check(MediaUrls(tmp_path), issued) is None  # once dropped, old URLs end
