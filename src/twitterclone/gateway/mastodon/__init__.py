"""The Mastodon client API (v1/v2, as Mastodon 4.3 documents it): a sibling of the native API.

One Router under /api (``router.mastodon_router``, mounted by gateway/app.py), its own
exception handlers (``{"error": "..."}``, see ``errors``), its routes translating Mastodon
requests to port calls and port results to Mastodon entities (``shaping``). No module knows
these shapes. docs/mastodon.md lists what is supported.
"""
