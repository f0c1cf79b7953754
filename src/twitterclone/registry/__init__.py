"""Service registry: where processes announce themselves and callers find healthy instances.

Backends: ``InProcessRegistry`` (monolith, tests), ``StaticRegistry`` (addresses from the manifest),
``RedisRegistry`` (TTL heartbeats, for split deployments), ``DnsRegistry`` (the platform's
headless Services, under Kubernetes). ``Registration`` keeps one process
registered while it runs.
"""

from twitterclone.registry.base import Instance, Registry, RegistryStateUnknown, split_address
from twitterclone.registry.memory import InProcessRegistry
from twitterclone.registry.redis_backend import RedisRegistry
from twitterclone.registry.registration import Registration
from twitterclone.registry.static import StaticRegistry

__all__ = [
    "InProcessRegistry",
    "Instance",
    "RedisRegistry",
    "Registration",
    "Registry",
    "RegistryStateUnknown",
    "StaticRegistry",
    "split_address",
]
