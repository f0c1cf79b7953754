"""The benchmark tool behind ``twitterclone bench``: seed a social graph, drive open-loop load, report.

- :mod:`.graph`   a synthetic power-law follow graph, or an edge-list file (both directions followed)
- :mod:`.seed`    registers, logs in, follows and posts through the public HTTP API
- :mod:`.load`    the open-loop generator (fixed arrival rate, latency from the scheduled send time)
- :mod:`.stats`   exact percentiles from stored samples, per-route and per-second summaries
- :mod:`.chart`   the latency-over-time SVG, drawn by hand
- :mod:`.runner`  the whole run: optional monolith, seed, ceiling, rate search, mixed run, report

It talks only HTTP, so it runs against any deployment (any manifest) that serves the gateway's API.
"""
