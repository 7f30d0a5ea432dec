"""Low-level readers for the raw release: text, JSON, JSONL and images, with exact error locations.

Every malformed input raises :class:`~rolescape.errors.InputError` with one line that names the file
and the place: ``line:col`` for malformed JSON (from ``json.JSONDecodeError``), a JSON path such as
``$.scenes[3][1].text`` for JSON of the wrong shape, or the item id. Things the release itself is
lenient about (CRLF, a BOM, blank JSONL lines, no final newline) are read transparently and reported
to the caller as flags so they become audit findings, not errors.
"""

from __future__ import annotations

import io
import json
import re
import struct
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from rolescape.errors import InputError
from rolescape.io import sha256_bytes

# ---------------------------------------------------------------------------------------------- text


@dataclass
class TextFile:
    """A decoded text file and the cosmetic facts about its bytes."""

    path: Path
    text: str  # CRLF/CR normalised to LF, BOM removed
    crlf: bool
    bom: bool
    final_newline: bool


def decode_text(path: Path, data: bytes) -> TextFile:
    """Strict UTF-8; a bad byte is an InputError naming its line and column."""
    bom = data.startswith(b"\xef\xbb\xbf")
    if bom:
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise InputError(f"not valid UTF-8 ({e.reason})", path=path, where=f"{line}:{col}") from None
    crlf = "\r" in text
    if crlf:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return TextFile(path=path, text=text, crlf=crlf, bom=bom, final_newline=text.endswith("\n") or not text)


def read_text(path: Path) -> TextFile:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}", path=path) from None
    return decode_text(path, data)


# ---------------------------------------------------------------------------------------------- JSON


def parse_json(tf: TextFile) -> Any:
    try:
        return json.loads(tf.text)
    except json.JSONDecodeError as e:
        raise InputError(f"malformed JSON: {e.msg}", path=tf.path, where=f"{e.lineno}:{e.colno}") from None
    except RecursionError:
        raise InputError("JSON nested too deeply to read", path=tf.path) from None


@dataclass
class JsonlLine:
    lineno: int
    obj: Any


def parse_jsonl(tf: TextFile) -> tuple[list[JsonlLine], list[int]]:
    """Return the parsed lines and the numbers of the blank lines that were skipped."""
    rows: list[JsonlLine] = []
    blank: list[int] = []
    lines = tf.text.split("\n")
    if tf.text.endswith("\n"):
        lines.pop()  # the empty string after the final newline is not a line
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            blank.append(lineno)
            continue
        try:
            rows.append(JsonlLine(lineno, json.loads(line)))
        except json.JSONDecodeError as e:
            raise InputError(f"malformed JSON: {e.msg}", path=tf.path, where=f"{lineno}:{e.colno}") from None
        except RecursionError:
            raise InputError("JSON nested too deeply to read", path=tf.path, where=str(lineno)) from None
    return rows, blank


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    for t, n in (
        (bool, "true/false"),
        (str, "a string"),
        (int, "an integer"),
        (float, "a number"),
        (list, "a list"),
        (dict, "an object"),
    ):
        if isinstance(value, t):
            return n
    return type(value).__name__


class Shape:
    """Checks the shape of one parsed JSON document; every failure names the file and the JSON path."""

    def __init__(self, path: Path, *, lineno: int | None = None):
        self.path = path
        self.lineno = lineno

    def where(self, jpath: str) -> str:
        return f"{self.lineno}: {jpath}" if self.lineno is not None else jpath

    def fail(self, jpath: str, message: str) -> NoReturn:
        raise InputError(message, path=self.path, where=self.where(jpath))

    def as_obj(self, value: Any, jpath: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(jpath, f"expected an object, got {type_name(value)}")
        return value

    def as_list(self, value: Any, jpath: str) -> list[Any]:
        if not isinstance(value, list):
            self.fail(jpath, f"expected a list, got {type_name(value)}")
        return value

    def as_str(self, value: Any, jpath: str) -> str:
        if not isinstance(value, str):
            self.fail(jpath, f"expected a string, got {type_name(value)}")
        return value

    def as_number(self, value: Any, jpath: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(jpath, f"expected a number, got {type_name(value)}")
        return float(value)

    def as_bool(self, value: Any, jpath: str) -> bool:
        if not isinstance(value, bool):
            self.fail(jpath, f"expected true/false, got {type_name(value)}")
        return value

    def as_choice(self, value: Any, jpath: str, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            self.fail(jpath, f"expected one of {', '.join(allowed)}, got {value!r}")
        return value

    def key(self, obj: Mapping[str, Any], key: str, jpath: str) -> Any:
        if key not in obj:
            self.fail(jpath, f"missing key {key!r}")
        return obj[key]

    def str_key(self, obj: Mapping[str, Any], key: str, jpath: str) -> str:
        return self.as_str(self.key(obj, key, jpath), f"{jpath}.{key}")

    def str_list(self, value: Any, jpath: str) -> list[str]:
        items = self.as_list(value, jpath)
        if not all(isinstance(v, str) for v in items):
            for i, v in enumerate(items):
                self.as_str(v, f"{jpath}[{i}]")
        return items

    def str_or_list(self, value: Any, jpath: str) -> tuple[list[str], bool]:
        """A string or a list of strings -> (list, was_list)."""
        if isinstance(value, str):
            return [value], False
        if isinstance(value, list):
            return self.str_list(value, jpath), True
        self.fail(jpath, f"expected a string or a list of strings, got {type_name(value)}")


# -------------------------------------------------------------------------------------------- images

MAX_PIXELS = 64_000_000  # refuse anything larger before decoding (decompression-bomb guard)

_MAGIC: tuple[tuple[Callable[[bytes], bool], str], ...] = (
    (lambda b: b.startswith(b"\x89PNG\r\n\x1a\n"), "PNG"),
    (lambda b: b.startswith(b"\xff\xd8\xff"), "JPEG"),
    (lambda b: b[:6] in (b"GIF87a", b"GIF89a"), "GIF"),
    (lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP", "WEBP"),
    (lambda b: b[:2] == b"BM", "BMP"),
)
EXTENSION_CONTAINER = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".gif": "GIF",
    ".webp": "WEBP",
    ".bmp": "BMP",
}
IMAGE_EXTENSIONS = tuple(EXTENSION_CONTAINER)
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


def sniff_container(data: bytes) -> str | None:
    """The real container format from the magic bytes, whatever the file name says."""
    for test, name in _MAGIC:
        if test(data):
            return name
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xDA)):  # markers without a length
            i += 2
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return None


def header_size(data: bytes, container: str) -> tuple[int, int] | None:
    """(width, height) read from the container header bytes alone, before any decoder sees the file.

    None when the header is too short or not understood (PIL then reads it, with its own bomb guard).
    """
    try:
        if container == "PNG" and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if container == "GIF":
            return struct.unpack("<HH", data[6:10])
        if container == "BMP":
            w, h = struct.unpack("<ii", data[18:26])
            return abs(w), abs(h)
        if container == "JPEG":
            return _jpeg_size(data)
        if container == "WEBP":
            kind = data[12:16]
            if kind == b"VP8X":
                return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
            if kind == b"VP8 ":
                w, h = struct.unpack("<HH", data[26:30])
                return w & 0x3FFF, h & 0x3FFF
            if kind == b"VP8L":
                bits = int.from_bytes(data[21:25], "little")
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    except struct.error:
        return None
    return None


def _too_large(path: Path, width: int, height: int) -> InputError:
    return InputError(
        f"image is {width}x{height} = {width * height / 1e6:.1f} megapixels, over the "
        f"{MAX_PIXELS // 1_000_000} megapixel limit; refused before decoding",
        path=path,
    )


@dataclass
class ImageInfo:
    container: str
    extension_matches: bool
    mode: str
    width: int
    height: int
    has_alpha: bool
    uses_transparency: bool
    sha256: str
    n_bytes: int


def inspect_image(path: Path, data: bytes) -> ImageInfo:
    """Sniff, size-check (before decoding), decode once, and measure one image.

    Raises InputError for an unknown container, an image over :data:`MAX_PIXELS`, a decompression bomb,
    and unreadable or truncated data.
    """
    from PIL import Image

    container = sniff_container(data)
    if container is None:
        raise InputError(f"not an image (unknown magic bytes {data[:8].hex()})", path=path)
    size = header_size(data, container)
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        raise _too_large(path, *size)  # before PIL parses anything (its own guard words it differently)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size  # header only: nothing decoded yet
            if width * height > MAX_PIXELS:
                raise _too_large(path, width, height)
            if width <= 0 or height <= 0:
                raise InputError(f"image has an empty size {width}x{height}", path=path)
            img.load()
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InputError(f"refused as a decompression bomb: {e}", path=path) from None
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, EOFError... for bad data
        raise InputError(f"unreadable or truncated image ({container}): {e}", path=path) from None
    if img.format and img.format != container:
        raise InputError(f"magic bytes say {container} but the decoder read {img.format}", path=path)
    mode = img.mode
    has_alpha = mode in _ALPHA_MODES or (mode == "P" and "transparency" in img.info)
    uses_transparency = False
    if has_alpha:
        rgba = img if mode in ("RGBA", "LA") else img.convert("RGBA")
        lo = rgba.getchannel("A").getextrema()[0]  # one band: (min, max)
        uses_transparency = isinstance(lo, int | float) and lo < 255
    img.close()
    ext = path.suffix.lower()
    return ImageInfo(
        container=container,
        extension_matches=EXTENSION_CONTAINER.get(ext) == container,
        mode=mode,
        width=width,
        height=height,
        has_alpha=has_alpha,
        uses_transparency=uses_transparency,
        sha256=sha256_bytes(data),
        n_bytes=len(data),
    )


def read_image_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError("image not found", path=path) from None
    except OSError as e:
        raise InputError(f"cannot read image: {e.strerror or e}", path=path) from None


_NUMERIC_STEM = re.compile(r"^\d+$")


def numeric_image_files(folder: Path) -> dict[str, Path]:
    """``{image id: path}`` for the files named ``<digits>.<image extension>`` in a folder."""
    out: dict[str, Path] = {}
    if not folder.is_dir():
        return out
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and _NUMERIC_STEM.match(p.stem):
            out.setdefault(p.stem, p)
    return out


__all__ = [
    "TextFile",
    "decode_text",
    "read_text",
    "parse_json",
    "parse_jsonl",
    "JsonlLine",
    "Shape",
    "type_name",
    "MAX_PIXELS",
    "sniff_container",
    "header_size",
    "ImageInfo",
    "inspect_image",
    "read_image_bytes",
    "numeric_image_files",
    "EXTENSION_CONTAINER",
    "IMAGE_EXTENSIONS",
]
