"""The users module: accounts, credentials, tokens, profiles and the follow graph."""

from boundaries.users.directory import UserDirectoryPort
from boundaries.users.port import UsersPort
from modules.users.provider import UsersProvider
from twitterclone.infra.kernel import ModuleSpec

MODULE = ModuleSpec(
    name="users",
    port=UsersPort,
    provider=UsersProvider,
    consumer=None,
    narrow_ports=(UserDirectoryPort,),
)

__all__ = ["MODULE"]
