"""Wiring: the media service as the MediaPort, and its consumer, for the composition root."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from boundaries.media.port import MediaPort
from modules.media.blobs import LocalBlobStore
from modules.media.consumer import MediaConsumer
from modules.media.service import MediaService
from twitterclone.infra.kernel import Kernel


class MediaProvider(Provider):
    scope = Scope.APP

    @provide
    def service(self, kernel: Kernel) -> MediaService:
        blobs = LocalBlobStore(kernel.data_path / "media")
        return MediaService(kernel.store("media"), kernel.ids, kernel.settings, blobs)

    @provide
    def port(self, service: MediaService) -> MediaPort:
        return service

    @provide
    def consumer(self, service: MediaService) -> MediaConsumer:
        return MediaConsumer(service)
