"""twitterclone: a Twitter-like backend, one codebase in any topology.

``twitterclone.infra`` holds the helpers modules may use (ids, stores, outbox, events);
``twitterclone.composition`` is the only place that imports ``modules``;
``twitterclone.gateway`` is the public REST API.
"""
