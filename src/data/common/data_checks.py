"""Checks of data files shared by the readers, each failing with a DataError naming the file (and line).

- `probe_image`: the `verify: fast` check of an image: its header (format, size) plus a cheap test that
  the file is complete (PNG: every chunk's CRC up to IEND; JPEG: the end-of-image marker; GIF: the
  trailer; BMP / WebP: the size their header declares), without decoding the pixels.
- `parse_xml`: an XML annotation, a parse error reported with its line.
- `first_duplicate`: two entries that a reader would silently merge (two images with one
  id or one label-file stem, one identity under two spellings).
- `check_not_empty`: a folder or list that holds no images.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from pathlib import Path

from PIL import Image

from src.errors import DataError

TAIL_BYTES = 4096  # where the end marker of a JPEG is looked for (some writers pad after it)


def _incomplete(path: Path, fmt: str, size: tuple[int, int]) -> str | None:
    """Why the file of an image with header `fmt` is cut short, or None if it looks complete."""
    length = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(16)
        f.seek(max(0, length - TAIL_BYTES))
        tail = f.read()
    if fmt == "JPEG" and b"\xff\xd9" not in tail:
        return "the JPEG has no end-of-image marker (truncated file)"
    if fmt == "GIF" and not tail.rstrip(b"\x00").endswith(b";"):
        return "the GIF has no trailer (truncated file)"
    if fmt == "BMP" and len(head) >= 6 and struct.unpack("<I", head[2:6])[0] > length:
        return f"the BMP header declares {struct.unpack('<I', head[2:6])[0]} bytes, the file has {length}"
    if fmt == "WEBP" and len(head) >= 8 and struct.unpack("<I", head[4:8])[0] + 8 > length:
        return (
            f"the WebP header declares {struct.unpack('<I', head[4:8])[0] + 8} bytes, the file has {length}"
        )
    return None


def probe_image(path: str | Path, decode: bool = False) -> tuple[int, int]:
    """(W, H) of an image, checked for completeness without decoding (`decode`: decode every pixel)."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise DataError(path, "empty image file (0 bytes)")
        with Image.open(path) as img:
            size, fmt = img.size, img.format
            if decode:
                img.load()
            elif fmt == "PNG":
                img.verify()  # chunk CRCs up to IEND, without decoding the pixels
    except DataError:
        raise
    except Exception as err:  # PIL raises many types for broken files
        raise DataError(
            path,
            f"cannot read the image ({err.__class__.__name__}: {err}); the file is corrupt or not an image",
        ) from None
    problem = None if decode else _incomplete(path, fmt or "", size)
    if problem:
        raise DataError(path, f"{problem}; re-export or remove it")
    return size


VERIFY = ("fast", "full", "none")


def verify_images(paths, verify: str) -> None:
    """The `verify` scan of a reader's images before training: fast (header + complete file) | full | none."""
    if verify != "none":
        for path in paths:
            probe_image(path, decode=verify == "full")


def parse_xml(path: str | Path) -> ET.ElementTree:
    """An XML file's tree; a malformed file is a DataError with the line of the parse error."""
    try:
        return ET.parse(path)
    except ET.ParseError as err:
        raise DataError(path, f"invalid XML ({err})", err.position[0]) from None


def first_duplicate(items: Iterable, key: Callable = lambda x: x) -> tuple | None:
    """(first item, second item) of the first two items whose `key` is equal, or None."""
    seen: dict = {}
    for item in items:
        k = key(item)
        if k in seen:
            return seen[k], item
        seen[k] = item
    return None


def check_not_empty(items, where: str | Path, what: str) -> None:
    if not items:
        raise DataError(where, what)
