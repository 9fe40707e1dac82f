"""Turning whatever a user uploads into an RGB image the models can take, or a clear message why not.

Every problem becomes a :class:`DemoInputError` whose message names the file and says what is wrong; the
app shows it in the page (never a stack trace). Accepted and normalized:

* any format Pillow reads (JPEG, PNG, WebP, BMP, TIFF, GIF (first frame), ...);
* EXIF orientation is applied, so the pixels are as the camera held them;
* modes: grayscale (``L``, ``I;16``, ``I``, ``F``), palette, ``LA``/``RGBA`` (composited over white), CMYK and
  YCbCr all become 8-bit RGB;
* images above a pixel limit (default :data:`DEFAULT_MAX_PIXELS`, env ``HARDMO_DEMO_MAX_PIXELS``) are
  downscaled, keeping the aspect ratio, and the note says so.
"""

from __future__ import annotations

import os
import re
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 4_000_000  # ~ 2450 x 1630; larger inputs are downscaled before anything else
MIN_SIDE = 16  # px: anything smaller cannot hold a person crop
# Pillow refuses to decode beyond this (decompression-bomb guard); we say so instead of crashing.
DECODE_LIMIT_PIXELS = 2 * Image.MAX_IMAGE_PIXELS if Image.MAX_IMAGE_PIXELS else 178_956_970 * 2


class DemoInputError(ValueError):
    """Bad user input; the message is meant for the page as is."""


@dataclass
class LoadedImage:
    """An 8-bit RGB image ready for the models, with notes for the user about what was done to it."""

    pixels: np.ndarray  # (H, W, 3) uint8 RGB
    name: str
    original_size: tuple[int, int]  # (H, W) px as stored in the file, before EXIF rotation and downscaling
    notes: list[str] = field(default_factory=list)
    scale: float = 1.0  # working width / width after EXIF rotation (< 1 when downscaled)

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) px of :attr:`pixels`."""
        return self.pixels.shape[0], self.pixels.shape[1]


def max_pixels_from_env() -> int:
    """The downscaling limit: env ``HARDMO_DEMO_MAX_PIXELS`` or :data:`DEFAULT_MAX_PIXELS`."""
    value = os.environ.get("HARDMO_DEMO_MAX_PIXELS")
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        limit = int(float(value))
    except ValueError as exc:
        raise ValueError(f"HARDMO_DEMO_MAX_PIXELS must be a number of pixels, got {value!r}") from exc
    if limit < MIN_SIDE * MIN_SIDE:
        raise ValueError(f"HARDMO_DEMO_MAX_PIXELS must be at least {MIN_SIDE * MIN_SIDE}, got {limit}")
    return limit


def load_image(source: str | Path | Image.Image | np.ndarray, max_pixels: int | None = None) -> LoadedImage:
    """Read, orient, convert and (if needed) downscale an image. Raises :class:`DemoInputError`."""
    max_pixels = max_pixels or max_pixels_from_env()
    if source is None:
        raise DemoInputError(
            "No image was given: upload a photo, take one with the webcam, or pick an example."
        )
    if isinstance(source, np.ndarray):
        name = "the image"
        image = _array_to_image(source, name)
    elif isinstance(source, Image.Image):
        name = "the image"
        image = source
    else:
        path = Path(source)
        name = path.name
        image = _open(path)
    notes: list[str] = []
    original_size = (image.height, image.width)
    image = _oriented(image, name, notes)
    image = _to_rgb(image, name, notes)
    if min(image.size) < MIN_SIDE:
        raise DemoInputError(
            f"{name}: the image is {image.width}x{image.height} px; it must be at least {MIN_SIDE} px on each side."
        )
    scale = 1.0
    pixels = image.width * image.height
    if pixels > max_pixels:
        scale = (max_pixels / pixels) ** 0.5
        size = (max(MIN_SIDE, int(image.width * scale)), max(MIN_SIDE, int(image.height * scale)))
        notes.append(
            f"The image is {image.width}x{image.height} px ({pixels / 1e6:.1f} MP); it was downscaled to "
            f"{size[0]}x{size[1]} px (limit {max_pixels / 1e6:.1f} MP). Results are in the downscaled pixels."
        )
        scale = size[0] / image.width
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return LoadedImage(np.asarray(image, dtype=np.uint8).copy(), name, original_size, notes, scale)


def _open(path: Path) -> Image.Image:
    if not path.exists():
        raise DemoInputError(f"{path.name}: the file does not exist (the upload may have failed; try again).")
    if path.stat().st_size == 0:
        raise DemoInputError(f"{path.name}: the file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DemoInputError(
            f"{path.name}: the image is too large to decode safely ({_bomb_size(exc)}); "
            f"please upload one below {Image.MAX_IMAGE_PIXELS / 1e6:.0f} MP."
        ) from None
    except UnidentifiedImageError:
        raise DemoInputError(
            f"{path.name}: not an image Pillow can read (expected JPEG, PNG, WebP, BMP, TIFF or GIF)."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise DemoInputError(f"{path.name}: the image file is corrupt or truncated ({exc}).") from None
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    return image


def _bomb_size(exc: Exception) -> str:
    match = re.search(r"\((\d+) pixels\)", str(exc))
    return f"{int(match.group(1)) / 1e6:.0f} MP" if match else "too many pixels"


def _array_to_image(array: np.ndarray, name: str) -> Image.Image:
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise DemoInputError(
            f"{name}: expected an (H, W), (H, W, 3) or (H, W, 4) array, got shape {array.shape}."
        )
    if array.dtype != np.uint8:
        array = _to_uint8(array.astype(np.float64))
    return Image.fromarray(array)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros(values.shape, dtype=np.uint8)
    lo, hi = float(finite.min()), float(finite.max())
    if 0.0 <= lo and hi <= 1.0:
        lo, hi = 0.0, 1.0  # float images in [0, 1]
    scaled = (np.nan_to_num(values, nan=lo) - lo) / max(hi - lo, 1e-12) * 255.0
    return scaled.clip(0, 255).round().astype(np.uint8)


_EXIF_ERRORS = (OSError, SyntaxError, ValueError, KeyError, TypeError, struct.error)
_EXIF_NOTES = {
    2: "mirrored",
    3: "rotated by 180 degrees",
    4: "flipped upside down",
    5: "transposed",
    6: "rotated by 270 degrees",
    7: "transposed",
    8: "rotated by 90 degrees",
}


def _oriented(image: Image.Image, name: str, notes: list[str]) -> Image.Image:
    try:
        orientation = image.getexif().get(0x0112, 1)
    except _EXIF_ERRORS:  # a malformed EXIF block must not stop the demo
        notes.append(f"{name}: the EXIF block could not be read; the image is used as stored.")
        return image
    if orientation in (None, 1):
        return image
    try:
        oriented = ImageOps.exif_transpose(image)
    except _EXIF_ERRORS:
        notes.append(
            f"{name}: the EXIF orientation tag ({orientation}) could not be applied; used as stored."
        )
        return image
    notes.append(
        f"The photo was {_EXIF_NOTES.get(orientation, 'reoriented')} to follow its EXIF orientation tag."
    )
    return oriented


def _to_rgb(image: Image.Image, name: str, notes: list[str]) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = _to_uint8(np.asarray(image, dtype=np.float64))
        notes.append(f"The {mode} grayscale image was scaled to 8 bits and used as RGB.")
        return Image.fromarray(array).convert("RGB")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        notes.append("Transparent areas were filled with white.")
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode in ("L", "1"):
        notes.append("The grayscale image was used as RGB.")
    elif mode == "CMYK":
        notes.append("The CMYK image was converted to RGB.")
    try:
        return image.convert("RGB")
    except (ValueError, OSError) as exc:
        raise DemoInputError(f"{name}: cannot convert an image in mode {mode!r} to RGB ({exc}).") from None


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def parse_boxes(text: str | None, image_size: tuple[int, int] | None = None) -> np.ndarray | None:
    """Parse user boxes ``"x1,y1,x2,y2; x1,y1,x2,y2"`` (px; also one box per line, spaces allowed).

    Returns (N, 4) float32 xyxy clipped to the image, or None for empty text. Raises :class:`DemoInputError`
    naming the faulty box.
    """
    if text is None or not text.strip():
        return None
    boxes = []
    for k, chunk in enumerate(c for c in re.split(r"[;\n]+", text) if c.strip()):
        numbers = re.findall(_NUMBER, chunk)
        leftover = re.sub(_NUMBER, "", chunk).replace(",", " ").strip(" []()\t")
        if len(numbers) != 4 or leftover:
            raise DemoInputError(
                f"Box {k + 1} ({chunk.strip()!r}): expected four numbers x1,y1,x2,y2 in pixels, "
                "boxes separated by ';' or new lines."
            )
        x1, y1, x2, y2 = (float(v) for v in numbers)
        if image_size is not None:
            height, width = image_size
            x1, x2 = np.clip([x1, x2], 0, width)
            y1, y2 = np.clip([y1, y2], 0, height)
        if x2 - x1 < 2 or y2 - y1 < 2:
            where = " inside the image" if image_size is not None else ""
            raise DemoInputError(
                f"Box {k + 1} ({chunk.strip()!r}) is empty{where}: x2 must exceed x1 and y2 must exceed y1."
            )
        boxes.append((x1, y1, x2, y2))
    return np.asarray(boxes, dtype=np.float32)


def format_boxes(boxes: np.ndarray) -> str:
    """The inverse of :func:`parse_boxes`: ``"x1,y1,x2,y2; ..."`` rounded to whole pixels."""
    return "; ".join(",".join(str(round(float(v))) for v in box) for box in np.asarray(boxes).reshape(-1, 4))
