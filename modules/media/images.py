"""Decoding, checking and re-encoding images (CPU work: run ``process_image`` on ImageWorkers).

The type is decided by decoding the content with Pillow, never by a file name. Every
rendition is re-encoded from pixel data alone, so nothing of the upload's metadata (EXIF with
GPS, XMP, ICC profiles, comments) survives; EXIF orientation is applied first so the picture
still looks the way the camera meant it.

Animated GIF/WebP: every rendition is the first frame (a still). Keeping the animation would
need a per-frame pixel budget; until then the honest choice is a still image.

Memory is bounded before any pixel is decoded: the header gives the size and the mode, so
``pixels x bytes per pixel`` (as Pillow holds them) is checked against a budget, and a
tiny file that would expand to hundreds of megabytes is refused unread. The work itself then
keeps at most two full-size copies alive (decoded and stripped), and the renditions shrink
the stripped copy in place. ``ImageWorkers`` runs the jobs on threads of their own, a bounded
number at a time, so uploads never queue in front of password hashing on the default executor.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from PIL import Image, ImageOps, UnidentifiedImageError

from boundaries.media.errors import CorruptImage, MediaBusy, MediaTooLarge, UnsupportedMediaType

T = TypeVar("T")

#: Pillow format name -> (content type, file extension) of the formats we accept.
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}

#: Renditions besides the original, and the box each must fit in; largest first, since each is
#: made by shrinking the one before it in place.
BOXES: dict[str, tuple[int, int]] = {"display": (1200, 1200), "thumb": (150, 150)}

_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Rendition:
    """One encoded variant of an image."""

    name: str
    data: bytes
    width: int
    height: int
    etag: str


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    """The checked image: its format and every rendition, original first."""

    format: str
    content_type: str
    extension: str
    width: int
    height: int
    renditions: list[Rendition]


def strong_etag(data: bytes) -> str:
    """A strong entity tag: the quoted SHA-256 of the bytes."""
    return f'"{hashlib.sha256(data).hexdigest()}"'


def process_image(data: bytes, max_pixels: int, max_decoded_bytes: int) -> ProcessedImage:
    """Check ``data`` is a JPEG, PNG, GIF or WebP image and make its stripped renditions.

    Raises UnsupportedMediaType (not one of those formats), MediaTooLarge (more pixels than
    ``max_pixels``, or more than ``max_decoded_bytes`` once decoded: a decompression bomb, or
    simply too big) or CorruptImage (truncated or undecodable). Pillow's own
    decompression-bomb warning/error (should a warnings filter turn the warning into an
    exception) becomes MediaTooLarge too.
    """
    img = _open(data, max_pixels, max_decoded_bytes)
    fmt = img.format or ""
    if fmt not in FORMATS:  # pragma: no cover - Image.open was limited to FORMATS
        raise UnsupportedMediaType("only JPEG, PNG, GIF and WebP images are accepted")
    content_type, extension = FORMATS[fmt]
    try:
        img.load()  # the full decode: truncated or damaged data fails here
        ImageOps.exif_transpose(img, in_place=True)
        pixels = _pixels_only(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaTooLarge(_too_many_pixels(img.width, img.height, max_pixels)) from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError) as exc:
        raise CorruptImage("the image is truncated or damaged and cannot be decoded") from exc
    finally:
        img.close()

    width, height = pixels.size
    renditions = [_encode("original", pixels, fmt)]
    for name, box in BOXES.items():
        pixels.thumbnail(box, Image.Resampling.LANCZOS)  # in place: the larger copy goes
        renditions.append(_encode(name, pixels, fmt))
    pixels.close()
    return ProcessedImage(
        format=fmt,
        content_type=content_type,
        extension=extension,
        width=width,
        height=height,
        renditions=renditions,
    )


def _open(data: bytes, max_pixels: int, max_decoded_bytes: int) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except UnidentifiedImageError as exc:
        raise UnsupportedMediaType("the file is not a JPEG, PNG, GIF or WebP image") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaTooLarge("the image declares far more pixels than allowed") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError) as exc:
        raise CorruptImage("the image header is damaged and cannot be read") from exc
    # The header is read, the pixels are not: refuse huge images before decoding them.
    width, height = img.size
    if width <= 0 or height <= 0:
        img.close()
        raise CorruptImage("the image has no pixels")
    if width * height > max_pixels:
        img.close()
        raise MediaTooLarge(_too_many_pixels(width, height, max_pixels))
    decoded = width * height * _bytes_per_pixel(img)
    if decoded > max_decoded_bytes:
        img.close()
        raise MediaTooLarge(
            f"the image is {width}x{height} pixels and would take {decoded / _MIB:.1f} MiB decoded; "
            f"at most {max_decoded_bytes / _MIB:.1f} MiB are accepted"
        )
    return img


def _bytes_per_pixel(img: Image.Image) -> int:
    """Memory per pixel while the image is worked on, read from the header alone.

    Pillow holds a single-band 8-bit image (L) in one byte per pixel and every other image we
    keep (RGB, RGBA, and palette or other modes, which become RGB or RGBA) in four.
    """
    return 1 if _target_mode(img) == "L" and img.mode == "L" else 4


def _target_mode(img: Image.Image) -> str:
    """The mode the stripped copy gets: RGBA when there is transparency, else RGB or L."""
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        return "RGBA"
    if img.mode in ("RGB", "L"):
        return img.mode
    return "RGB"  # palette, CMYK, 16-bit and the rest


def _too_many_pixels(width: int, height: int, max_pixels: int) -> str:
    return f"the image is {width}x{height} pixels; at most {max_pixels} pixels are accepted"


def _pixels_only(img: Image.Image) -> Image.Image:
    """A new image holding only the pixels of ``img`` (no info, EXIF, ICC, XMP, comments).

    At most two full-size images are alive at once: a converted copy replaces the decoded one
    before the clean copy is made.
    """
    target = _target_mode(img)
    source = img if img.mode == target else img.convert(target)
    if source is not img:
        img.close()
    clean = Image.new(target, source.size)
    clean.paste(source)
    source.close()
    return clean


def _encode(name: str, img: Image.Image, fmt: str) -> Rendition:
    out = io.BytesIO()
    if fmt == "JPEG":
        if img.mode == "RGBA":  # pragma: no cover - JPEG decodes without alpha
            img = img.convert("RGB")
        img.save(out, format="JPEG", quality=85, optimize=True)
    elif fmt == "PNG":
        img.save(out, format="PNG", optimize=False, compress_level=6)
    elif fmt == "GIF":
        img.save(out, format="GIF")
    else:
        img.save(out, format="WEBP", quality=82, method=4)
    data = out.getvalue()
    return Rendition(name=name, data=data, width=img.width, height=img.height, etag=strong_etag(data))


class ImageWorkers:
    """Image jobs on threads of their own: ``workers`` at once, at most ``queue`` more waiting.

    Jobs never use the event loop's default executor, where password hashing and blob I/O run,
    so a burst of uploads waits here and not in front of a login. Past the bound an upload is
    refused at once (MediaBusy, 503) rather than holding its bytes in a growing queue. A job is
    counted until its thread is done, even when the request that asked for it has gone: a
    client that hangs up does not free a slot while the work still runs.
    """

    def __init__(self, workers: int, queue: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="media-image")
        self._capacity = workers + queue
        self._admitted = 0
        self._lock = threading.Lock()

    @property
    def admitted(self) -> int:
        """Jobs running or waiting now."""
        return self._admitted

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on an image thread; raise MediaBusy when the bound is reached."""
        with self._lock:
            if self._admitted >= self._capacity:
                raise MediaBusy("too many images are being processed right now; try again shortly")
            self._admitted += 1
        try:
            job = self._executor.submit(fn, *args)
        except BaseException:
            self._release(None)
            raise
        job.add_done_callback(self._release)
        # Cancelling the caller cancels a job still waiting; a running one finishes on its thread.
        return await asyncio.wrap_future(job)

    def _release(self, _: Future[Any] | None) -> None:
        with self._lock:
            self._admitted -= 1
