"""toot 0.52.1, the unmodified CLI, through the flows a user meets, on the monolith and the split.

Each step runs the ``toot`` command as a person would, with its own configuration directory
(``XDG_CONFIG_HOME``): sign in with the password (``login_cli``) and with the out-of-band code
(``login``: the browser part done over HTTP, the code typed at its prompt), post with an image and
alt text, reply, boost, favourite, bookmark, follow, home and public timelines across three pages
(``--max-id``), notifications, search. toot's CLI has no streaming command (only its TUI streams);
the live stream is covered with Mastodon.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.harness import Deployment
from tests.e2e.scenarios import PASSWORD
from tests.mastodon_clients.conftest import Native, Steps
from tests.mastodon_clients.test_mastodon_py_flows import oob_code

pytestmark = pytest.mark.slow

TOOT = str(Path(sys.executable).with_name("toot"))
#: The client steps below (each ``s(...)``).
STEPS = 17


class Toot:
    """Runs ``toot`` with a configuration directory of its own."""

    def __init__(self, config_home: Path) -> None:
        self.env = {**os.environ, "XDG_CONFIG_HOME": str(config_home), "NO_COLOR": "1"}

    def run(self, *args: str, stdin: str = "", account: str | None = None) -> str:
        command = [TOOT, "--no-color", *(["--as", account] if account else []), *args]
        done = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
            start_new_session=True,  # no terminal: the password prompt reads stdin
        )
        assert done.returncode == 0, f"toot {' '.join(args)}: {done.stderr or done.stdout}"
        return done.stdout

    def json(self, *args: str, account: str | None = None) -> Any:
        return json.loads(self.run(*args, "--json", account=account))

    def login_oob(self, base_url: str, login: str) -> None:
        """``toot login``: read the URL it prints, do the browser part, type the code."""
        process = subprocess.Popen(
            [TOOT, "--no-color", "login", "-i", base_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            start_new_session=True,
        )
        assert process.stdout is not None
        assert process.stdin is not None
        url = None
        while url is None:
            line = process.stdout.readline()
            assert line, f"toot login printed no URL: {process.stderr.read() if process.stderr else ''}"
            if line.startswith("http"):
                url = line.strip()
        code = oob_code(url, login)
        out, err = process.communicate(f"n\n{code}\n", timeout=60)
        assert process.returncode == 0, err or out
        assert "Successfully logged in" in out, out


def image(path: Path) -> Path:
    Image.new("RGB", (40, 30), (20, 160, 90)).save(path, format="PNG")
    return path


def test_toot_does_everything(server: Deployment, native: Native, steps: Any, tmp_path: Path) -> None:
    s: Steps = steps("toot")
    base = server.base_url
    host = base.split("://", 1)[1]
    author = native.user("author")
    for i in range(7):
        native.post(author, f"toot page {i} #tootpages")
    reader_user, writer_user = native.user("reader"), native.user("writer")
    toot = Toot(tmp_path / "config")
    reader, writer = f"{reader_user.handle}@{host}", f"{writer_user.handle}@{host}"

    s(
        "login_cli (password grant)",
        lambda: toot.run(
            "login_cli", "-i", base, "-e", f"{reader_user.handle}@example.org", stdin=f"{PASSWORD}\n"
        ),
    )
    s("login (out-of-band code)", lambda: toot.login_oob(base, writer_user.handle))
    s("whoami", lambda: _equal(toot.json("whoami", account=reader)["acct"], reader_user.handle))

    picture = image(tmp_path / "green.png")
    posted = s(
        "post with an image and alt text",
        lambda: toot.json(
            "post", "a green box #tootboxes", "-m", str(picture), "-d", "a green box", account=writer
        ),
    )
    assert posted["media_attachments"][0]["description"] == "a green box"
    status_id = posted["id"]
    reply = s("reply", lambda: toot.json("post", "lovely", "-r", status_id, account=reader))
    assert reply["in_reply_to_id"] == status_id
    s("boost", lambda: toot.run("reblog", status_id, account=reader))
    s("favourite", lambda: toot.run("favourite", status_id, account=reader))
    s("bookmark", lambda: toot.run("bookmark", status_id, account=reader))
    s(
        "bookmarks",
        lambda: _true(status_id in toot.run("bookmarks", "--once", account=reader)),
    )
    s("follow", lambda: toot.run("follow", author.handle, account=reader))

    def three_pages(*timeline: str) -> None:
        ids: list[str] = []
        for _ in range(3):
            paging = ["--max-id", ids[-1]] if ids else []
            page = toot.json("timelines", *timeline, "--limit", "2", *paging, account=reader)
            assert len(page) == 2, page
            ids += [st["id"] for st in page]
        assert len(set(ids)) == 6
        assert ids == sorted(ids, key=int, reverse=True)

    s("home timeline, three pages", lambda: three_pages("home"))
    s("public timeline, three pages", lambda: three_pages("public", "--local"))
    s("tag timeline", lambda: _true(len(toot.json("timelines", "tag", "tootpages", account=reader)) >= 2))

    def notified() -> None:
        kinds = {n["type"] for n in toot.json("notifications", account=writer)}
        assert {"mention", "reblog", "favourite"} <= kinds, kinds

    s("notifications", notified)
    found = s("search", lambda: toot.json("search", author.handle, account=reader))
    assert any(a["acct"] == author.handle for a in found["accounts"])
    s("instance", lambda: _true("twitterclone" in toot.run("instance", base)))
    s("unfollow", lambda: toot.run("unfollow", author.handle, account=reader))
    s.summary(STEPS)


def _equal(got: Any, expected: Any) -> None:
    assert got == expected, f"{got!r} != {expected!r}"


def _true(value: Any) -> None:
    assert value is True
