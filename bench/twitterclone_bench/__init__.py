"""The benchmark tool behind ``twitterclone bench``: a tool beside the product, not part of it.

``twitterclone`` finds the command through the ``twitterclone.commands`` entry point and never
imports this package; this package uses the product only from outside (an import contract in
``.importlinter``): the public HTTP API, and where it runs modules in its own process (seeding the
fan-out bench, the relay bench) the composition root and the ports, never a module or a store.

- :mod:`.command`, :mod:`.options`  the click commands (only click is imported until one runs)
- :mod:`.graph`   a synthetic power-law follow graph, or an edge-list file (both directions followed)
- :mod:`.seed`    registers, logs in, follows and posts through the public HTTP API
- :mod:`.load`    the open-loop generator (fixed arrival rate, latency from the scheduled send time)
- :mod:`.stats`   exact percentiles from stored samples, per-route and per-second summaries
- :mod:`.report`  the typed result structs they share, and the one writer and renderer of reports
- :mod:`.chart`   the latency-over-time SVG, drawn by hand
- :mod:`.runner`  ``bench``: optional monolith, seed, ceiling, rate search, mixed run
- :mod:`.connections`, :mod:`.userconn`  ``bench connections``: many keep-alive users at a think time
- :mod:`.fanout`, :mod:`.fanout_seed`  ``bench fanout``: an author with 100,000 followers posts
- :mod:`.relay`   ``bench relay``: how fast the outbox relays drain bursts of events
"""
