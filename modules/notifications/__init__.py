"""The notifications module: notifications per user from others' events, read markers, live waits."""

from boundaries.notifications.port import NotificationsPort
from modules.notifications.consumer import NotificationsConsumer
from modules.notifications.provider import NotificationsProvider
from twitterclone.infra.kernel import ModuleSpec

MODULE = ModuleSpec(
    name="notifications",
    port=NotificationsPort,
    provider=NotificationsProvider,
    consumer=NotificationsConsumer,
)

__all__ = ["MODULE"]
