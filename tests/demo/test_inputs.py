"""User uploads: every kind of odd image is normalized or rejected with a message naming the file."""

import io

import numpy as np
import pytest
from PIL import Image

from hardmo_hf.demo.inputs import DemoInputError, format_boxes, load_image, parse_boxes


def _save(image: Image.Image, path, **kwargs):
    image.save(path, **kwargs)
    return path


def _gradient(width=120, height=80):
    x = np.linspace(0, 255, width, dtype=np.uint8)[None, :, None]
    y = np.linspace(0, 255, height, dtype=np.uint8)[:, None, None]
    return Image.fromarray(
        np.concatenate(
            [
                np.broadcast_to(x, (height, width, 1)),
                np.broadcast_to(y, (height, width, 1)),
                np.full((height, width, 1), 90, np.uint8),
            ],
            axis=2,
        )
    )


def test_rgb_jpeg_loads_unchanged(tmp_path):
    path = _save(_gradient(), tmp_path / "photo.jpg", quality=95)
    loaded = load_image(path)
    assert loaded.size == (80, 120) and loaded.pixels.dtype == np.uint8 and loaded.notes == []
    assert loaded.name == "photo.jpg"


def test_exif_rotation_is_applied(tmp_path):
    image = _gradient(120, 80)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = _save(image, tmp_path / "rotated.jpg", exif=exif, quality=95)
    loaded = load_image(path)
    assert loaded.size == (120, 80)
    assert any("EXIF" in note for note in loaded.notes)
    # The left column of the stored image (x = 0, dark red channel) becomes the top row.
    assert loaded.pixels[0, :, 0].mean() < 40


@pytest.mark.parametrize(
    "mode, note",
    [
        ("L", "grayscale"),
        ("1", "grayscale"),
        ("I;16", "I;16"),
        ("F", "F"),
        ("CMYK", "CMYK"),
        ("RGBA", "Transparent"),
        ("LA", "Transparent"),
        ("P", None),
    ],
)
def test_modes_become_rgb(tmp_path, mode, note):
    base = _gradient()
    if mode == "I;16":
        image = Image.fromarray(np.asarray(base.convert("L"), dtype=np.uint16) * 200)
        assert image.mode == "I;16"
    elif mode == "F":
        image = Image.fromarray(np.asarray(base.convert("L"), dtype=np.float32) / 255.0)
    elif mode == "RGBA":
        rgba = np.asarray(base.convert("RGBA")).copy()
        rgba[:, :60, 3] = 0
        image = Image.fromarray(rgba)
    else:
        image = base.convert(mode)
    suffix = {"CMYK": ".jpg", "F": ".tiff", "I;16": ".png"}.get(mode, ".png")
    path = _save(image, tmp_path / f"img_{mode.replace(';', '')}{suffix}")
    loaded = load_image(path)
    assert loaded.pixels.shape == (80, 120, 3) and loaded.pixels.dtype == np.uint8
    if note:
        assert any(note in n for n in loaded.notes), loaded.notes
    if mode == "RGBA":
        assert (loaded.pixels[:, :60] == 255).all()  # transparent -> white
    if mode == "I;16":  # 16-bit values are stretched to the full 8-bit range
        assert loaded.pixels.max() == 255 and loaded.pixels.min() == 0
    if mode == "F":  # float images in [0, 1] map to 0..255 as they are
        expected = np.asarray(base.convert("L"), dtype=np.float64)
        assert np.abs(loaded.pixels[..., 0] - expected).max() <= 1


def test_huge_images_are_downscaled(tmp_path):
    path = _save(_gradient(3000, 2000), tmp_path / "big.png")
    loaded = load_image(path, max_pixels=1_000_000)
    height, width = loaded.size
    assert height * width <= 1_000_000 and abs(width / height - 1.5) < 0.01
    assert loaded.scale == pytest.approx(width / 3000)
    assert any("downscaled" in n for n in loaded.notes)


def test_decompression_bombs_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    path = _save(_gradient(100, 80), tmp_path / "bomb.png")
    with pytest.raises(DemoInputError, match="bomb.png: the image is too large"):
        load_image(path)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"hello, this is text\n" * 10, "not an image"),
        (b"", "empty"),
    ],
)
def test_non_images_are_rejected_with_the_file_name(tmp_path, content, message):
    path = tmp_path / "notes.jpg"
    path.write_bytes(content)
    with pytest.raises(DemoInputError, match=f"notes.jpg: .*{message}"):
        load_image(path)


def test_truncated_jpeg_is_reported_as_corrupt(tmp_path):
    buffer = io.BytesIO()
    _gradient(400, 300).save(buffer, format="JPEG", quality=95)
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 3])
    with pytest.raises(DemoInputError, match="cut.jpg: the image file is corrupt or truncated"):
        load_image(path)


def test_tiny_and_missing_images(tmp_path):
    with pytest.raises(DemoInputError, match="at least 16 px"):
        load_image(_save(_gradient(10, 40), tmp_path / "tiny.png"))
    with pytest.raises(DemoInputError, match="gone.png: the file does not exist"):
        load_image(tmp_path / "gone.png")
    with pytest.raises(DemoInputError, match="No image was given"):
        load_image(None)


def test_arrays_are_accepted():
    loaded = load_image(np.random.default_rng(0).random((40, 50)))
    assert loaded.pixels.shape == (40, 50, 3)
    with pytest.raises(DemoInputError, match="shape"):
        load_image(np.zeros((4, 40, 50, 3)))


def test_parse_boxes():
    assert parse_boxes("") is None and parse_boxes("  ") is None and parse_boxes(None) is None
    boxes = parse_boxes("10,20,110,220; 5 6 50 60\n[1.5, 2, 30, 40.25]")
    assert boxes.shape == (3, 4) and boxes.dtype == np.float32
    assert boxes[2].tolist() == [1.5, 2.0, 30.0, 40.25]
    clipped = parse_boxes("-10,-10,500,500", image_size=(100, 200))
    assert clipped.tolist() == [[0, 0, 200, 100]]
    with pytest.raises(DemoInputError, match="Box 2 .*four numbers"):
        parse_boxes("1,2,30,40; 1,2,3")
    with pytest.raises(DemoInputError, match="Box 1 .*empty"):
        parse_boxes("50,50,10,10")
    with pytest.raises(DemoInputError, match="four numbers"):
        parse_boxes("a,b,c,d")
    assert format_boxes(parse_boxes("10.4,20.6,110,220")) == "10,21,110,220"
