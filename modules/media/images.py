"""Decoding, checking and re-encoding images (CPU work: call ``process_image`` in a thread).

The type is decided by decoding the content with Pillow, never by a file name. Every
rendition is re-encoded from pixel data alone, so nothing of the upload's metadata (EXIF with
GPS, XMP, ICC profiles, comments) survives; EXIF orientation is applied first so the picture
still looks the way the camera meant it.

Animated GIF/WebP: every rendition is the first frame (a still). Keeping the animation would
need a per-frame pixel budget; until then the honest choice is a still image.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from boundaries.media.errors import CorruptImage, MediaTooLarge, UnsupportedMediaType

#: Pillow format name -> (content type, file extension) of the formats we accept.
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}

#: Renditions besides the original, and the box each must fit in.
BOXES: dict[str, tuple[int, int]] = {"display": (1200, 1200), "thumb": (150, 150)}


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


def process_image(data: bytes, max_pixels: int) -> ProcessedImage:
    """Check ``data`` is a JPEG, PNG, GIF or WebP image and make its stripped renditions.

    Raises UnsupportedMediaType (not one of those formats), MediaTooLarge (more pixels than
    ``max_pixels``: a decompression bomb, or simply too big) or CorruptImage (truncated or
    undecodable). Pillow's own decompression-bomb warning/error (should a warnings filter turn
    the warning into an exception) becomes MediaTooLarge too.
    """
    img = _open(data, max_pixels)
    fmt = img.format or ""
    if fmt not in FORMATS:  # pragma: no cover - Image.open was limited to FORMATS
        raise UnsupportedMediaType("only JPEG, PNG, GIF and WebP images are accepted")
    content_type, extension = FORMATS[fmt]
    try:
        img.load()  # the full decode: truncated or damaged data fails here
        upright = ImageOps.exif_transpose(img)
        pixels = _pixels_only(upright)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaTooLarge(_too_many_pixels(img.width, img.height, max_pixels)) from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError) as exc:
        raise CorruptImage("the image is truncated or damaged and cannot be decoded") from exc
    finally:
        img.close()

    renditions = [_encode("original", pixels, fmt)]
    for name, box in BOXES.items():
        smaller = pixels.copy()
        smaller.thumbnail(box, Image.Resampling.LANCZOS)
        renditions.append(_encode(name, smaller, fmt))
    return ProcessedImage(
        format=fmt,
        content_type=content_type,
        extension=extension,
        width=pixels.width,
        height=pixels.height,
        renditions=renditions,
    )


def _open(data: bytes, max_pixels: int) -> Image.Image:
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
    return img


def _too_many_pixels(width: int, height: int, max_pixels: int) -> str:
    return f"the image is {width}x{height} pixels; at most {max_pixels} pixels are accepted"


def _pixels_only(img: Image.Image) -> Image.Image:
    """A new image holding only the pixels of ``img`` (no info, EXIF, ICC, XMP, comments)."""
    has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
    if has_alpha:
        target = "RGBA"
    elif img.mode in ("RGB", "L"):
        target = img.mode
    else:  # palette, CMYK, 16-bit and the rest
        target = "RGB"
    if img.mode != target:
        img = img.convert(target)
    return Image.frombytes(img.mode, img.size, img.tobytes())


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
