"""The contracts between modules: ports (typing.Protocol), DTOs, events and errors.

Pure by rule: only the standard library and msgspec are imported here, so every
binding (in-process or HTTP) and every module can depend on these types alone.
"""
