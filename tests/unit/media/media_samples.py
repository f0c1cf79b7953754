"""Images made on the spot for the media tests (no binary fixtures in the repository)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def exif_with_gps(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SnoopCam"  # Make
    exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (52.0, 31.0, 12.5)
    gps[3] = "E"
    gps[4] = (13.0, 24.0, 36.0)
    return exif.tobytes()


def jpeg_with_metadata(size: tuple[int, int] = (64, 32), orientation: int = 1) -> bytes:
    """A JPEG carrying EXIF (with GPS), an ICC profile and a comment."""
    img = Image.new("RGB", size, (200, 30, 30))
    img.paste((30, 30, 200), (0, 0, size[0] // 2, size[1]))  # left half blue: orientation is visible
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif_with_gps(orientation), icc_profile=icc, comment=b"secret comment")
    data = out.getvalue()
    assert b"Exif" in data
    assert b"secret comment" in data
    return data


def png(size: tuple[int, int] = (40, 30), mode: str = "RGBA", text: str | None = None) -> bytes:
    img = Image.new(mode, size, (10, 120, 10, 128) if mode == "RGBA" else (10, 120, 10))
    out = io.BytesIO()
    info = None
    if text is not None:
        info = PngInfo()
        info.add_text("Comment", text)
    img.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def gif(size: tuple[int, int] = (30, 20), frames: int = 1) -> bytes:
    images = [Image.new("P", size, i * 40) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=frames > 1, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


def webp(size: tuple[int, int] = (30, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(out, "WEBP")
    return out.getvalue()


def big_jpeg(size: tuple[int, int] = (2400, 1600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (90, 90, 90)).save(out, "JPEG")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that declares ``width`` x ``height`` pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    rows = zlib.compress(b"\x00" * (width + 1) * 4, 9)  # a few rows of zeros; the rest is "implied"
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def truncated_png() -> bytes:
    noisy = Image.effect_noise((300, 200), 80)
    out = io.BytesIO()
    noisy.save(out, "PNG")
    data = out.getvalue()
    return data[: len(data) // 2]


def truncated_jpeg() -> bytes:
    noisy = Image.effect_noise((400, 300), 80).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, "JPEG", quality=95)
    data = out.getvalue()
    return data[: len(data) // 2]


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img
