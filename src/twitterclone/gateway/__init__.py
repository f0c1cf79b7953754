"""The public REST API (Litestar): routes under /api, authentication, problems, health."""
