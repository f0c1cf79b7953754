"""The generic HTTP port adapter: one server and one client mechanism for every port.

Nothing here is written per port or per method: ``portspec`` reads a port Protocol's
methods and types, ``server`` serves any service object behind ``POST /_port/<module>/<method>``,
and ``client`` builds an object that implements the Protocol by calling that route.
"""
