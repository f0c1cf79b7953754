"""The Mastodon route groups, one Controller each."""

from twitterclone.gateway.mastodon.routes.accounts import AccountsController
from twitterclone.gateway.mastodon.routes.apps import AppsController, SignUpController
from twitterclone.gateway.mastodon.routes.collections import CollectionsController
from twitterclone.gateway.mastodon.routes.instance import InstanceController
from twitterclone.gateway.mastodon.routes.media import MediaController
from twitterclone.gateway.mastodon.routes.notifications import MarkersController, NotificationsController
from twitterclone.gateway.mastodon.routes.search import SearchController, TrendsController
from twitterclone.gateway.mastodon.routes.statuses import StatusesController
from twitterclone.gateway.mastodon.routes.timelines import TimelinesController

CONTROLLERS: list[type] = [
    InstanceController,
    AppsController,
    SignUpController,
    AccountsController,
    CollectionsController,
    StatusesController,
    MediaController,
    TimelinesController,
    NotificationsController,
    MarkersController,
    SearchController,
    TrendsController,
]

__all__ = ["CONTROLLERS"]
