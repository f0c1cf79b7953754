"""What the users contract tests share: making an account through the whole port."""

from __future__ import annotations

from boundaries.users.dto import Register
from boundaries.users.port import UsersPort

PASSWORD = "correct horse battery"


async def make(port: UsersPort, handle: str, display_name: str = "") -> str:
    """Register ``handle`` (email ``<handle>@example.org``) and return its id."""
    account = await port.register(
        Register(
            handle=handle, email=f"{handle.lower()}@example.org", password=PASSWORD, display_name=display_name
        )
    )
    return account.profile.id
