"""The PIL-free image header parser agrees with PIL wherever it answers, and defers to PIL everywhere else."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from PIL import Image

from hardmo_hf.data.readers import _common
from hardmo_hf.data.readers._common import ImageInfo, RecordError, parse_image_header, probe_image


def _encode(mode: str, fmt: str, **options) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 255, (37, 53, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, fmt, **options)
    return buffer.getvalue()


# (bytes, whether the header parser handles it without PIL)
IMAGES = {
    "jpeg": (_encode("RGB", "JPEG"), True),
    "jpeg_progressive": (_encode("RGB", "JPEG", progressive=True), True),
    "jpeg_gray": (_encode("L", "JPEG"), True),
    "jpeg_comment": (_encode("RGB", "JPEG", comment=b"frame"), True),
    "jpeg_restart": (_encode("RGB", "JPEG", restart_marker_blocks=1), True),
    "jpeg_exif": (_encode("RGB", "JPEG", exif=Image.Exif()), False),
    "jpeg_icc": (_encode("RGB", "JPEG", icc_profile=b"x" * 100), False),
    "jpeg_cmyk": (_encode("CMYK", "JPEG"), False),  # Adobe APP14
    "png": (_encode("RGB", "PNG"), True),
    "png_rgba": (_encode("RGBA", "PNG"), True),
    "png_gray16": (_encode("I;16", "PNG"), True),
    "png_palette": (_encode("P", "PNG"), False),  # PLTE before IDAT
    "png_dpi": (_encode("RGB", "PNG", dpi=(72, 72)), False),  # pHYs before IDAT
}


def _pil_info(data: bytes):
    """What PIL's ``Image.open`` makes of ``data``: an ImageInfo or the error's type name."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                return ImageInfo((image.format or "").lower(), *image.size)
    except Exception as exc:  # noqa: BLE001 - any failure is compared by type
        return type(exc).__name__


def _outcome(data: bytes):
    try:
        return probe_image(data, "header")
    except RecordError as exc:
        # PIL's "cannot identify" message holds the address of its BytesIO; the reason and the rest must match
        return exc.reason, exc.detail.split(" <_io.BytesIO")[0]


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_header_parser_agrees_with_pil(name):
    data, handled = IMAGES[name]
    assert (parse_image_header(data) is not None) == handled
    assert probe_image(data, "header") == _pil_info(data)


def test_damaged_headers_give_the_same_outcome_as_pil(monkeypatch):
    """Truncated and byte-flipped headers: where the parser answers PIL agrees; the reject is PIL's own."""
    rng = np.random.default_rng(1)
    answered = 0
    for name in ("jpeg", "jpeg_progressive", "png", "png_rgba"):
        data = IMAGES[name][0]
        damaged = [data[:size] for size in range(0, 700, 7)]
        for _ in range(150):
            copy = bytearray(data)
            for index in rng.integers(0, 700, rng.integers(1, 4)):
                copy[index] = int(rng.integers(0, 256))
            damaged.append(bytes(copy))
        outcomes = [_outcome(item) for item in damaged]
        for item in damaged:
            info = parse_image_header(item)
            if info is not None:
                answered += 1
                assert info == _pil_info(item)
        with monkeypatch.context() as patched:
            patched.setattr(_common, "parse_image_header", lambda data: None)  # PIL only
            assert [_outcome(item) for item in damaged] == outcomes
    assert answered > 100  # the comparison covered the parser's own answers, not only its refusals


def test_header_parser_leaves_decompression_bombs_to_pil(monkeypatch):
    data = IMAGES["jpeg"][0]
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 37 * 53 - 1)
    assert parse_image_header(data) is None
