"""The media module: image uploads checked by decoding, stripped renditions, blobs."""

from boundaries.media.port import MediaPort
from modules.media.consumer import MediaConsumer
from modules.media.provider import MediaProvider
from twitterclone.infra.kernel import ModuleSpec

MODULE = ModuleSpec(name="media", port=MediaPort, provider=MediaProvider, consumer=MediaConsumer)

__all__ = ["MODULE"]
