"""HardMoImageProcessor: crops and normalisation as upstream, every input kind, save/load, post_process."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from hardmo_hf.models.cropping_hardmo import crop_hmr2, crop_spin, hmr2_crop_window, spin_crop_window
from hardmo_hf.models.geometry_hardmo import axis_angle_to_rotmat
from hardmo_hf.models.image_processing_hardmo import PRESETS, HardMoImageProcessor, preset_for_config

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


# ----------------------------------------------------------------------------------------------------------
# Preprocessing
# ----------------------------------------------------------------------------------------------------------
def test_normalisation_reproduces_the_hardmo_hmr_fixture_exactly(upstream_fixtures):
    """The fixture's `img` was normalised from `img_rgb_uint8` by upstream: a whole-crop box gives it back."""
    io = np.load(upstream_fixtures / "hardmo_hmr_small_io.npz")
    processor = HardMoImageProcessor.from_preset("hmr")
    crops = list(io["img_rgb_uint8"])
    inputs = processor(images=crops, boxes=[[[0, 0, 224, 224]]] * len(crops), return_tensors="np")
    assert inputs["pixel_values"].dtype == np.float32
    assert np.array_equal(inputs["pixel_values"], io["img"])


def test_several_images_and_boxes(rgb_image):
    small = rgb_image[:100, :150]
    processor = HardMoImageProcessor.from_preset("hmr2")
    boxes = [np.array([[10, 20, 110, 230], [150.5, 30.25, 300, 200]]), None, np.zeros((0, 4))]
    inputs = processor(images=[rgb_image, small, rgb_image], boxes=boxes, return_tensors="pt")
    assert inputs["pixel_values"].shape == (3, 3, 256, 256) and inputs["pixel_values"].dtype == torch.float32
    assert inputs["image_index"].tolist() == [0, 0, 1]
    assert inputs["image_sizes"].tolist() == [[320, 240], [150, 100], [320, 240]]
    assert inputs["img_size"].tolist() == [[320, 240], [320, 240], [150, 100]]
    assert inputs["boxes"][2].tolist() == [0, 0, 150, 100]  # None: the whole image
    for n, (image, box) in enumerate(
        [(rgb_image, boxes[0][0]), (rgb_image, boxes[0][1]), (small, [0, 0, 150, 100])]
    ):
        center, side = hmr2_crop_window(box, (192, 256))
        assert inputs["box_center"][n].tolist() == pytest.approx(center.tolist())
        assert float(inputs["box_size"][n]) == pytest.approx(side, rel=1e-6)
        patch = crop_hmr2(image, center, side, 256).transpose(2, 0, 1)
        expected = (patch - 255 * IMAGENET_MEAN[:, None, None]) / (255 * IMAGENET_STD[:, None, None])
        np.testing.assert_allclose(inputs["pixel_values"][n].numpy(), expected, atol=1e-5)


def test_spin_rule_normalises_in_float32_like_bedlam(rgb_image):
    processor = HardMoImageProcessor.from_preset("bedlam")
    box = [40.5, 10.0, 180.0, 230.5]
    inputs = processor(images=rgb_image, boxes=[box], return_tensors="np")
    center, side = spin_crop_window(box)
    crop = crop_spin(rgb_image, center, side, 224).transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    expected = (crop - IMAGENET_MEAN.astype(np.float32)[:, None, None]) / IMAGENET_STD.astype(np.float32)[
        :, None, None
    ]
    assert inputs["pixel_values"].shape == (1, 3, 224, 224)
    assert np.array_equal(inputs["pixel_values"][0], expected)
    assert float(inputs["box_size"][0]) == pytest.approx(220.5)


def test_image_kinds_give_the_same_crop(rgb_image, tmp_path):
    processor = HardMoImageProcessor.from_preset("hmr", image_size=64)
    box = [[30, 20, 200, 220]]
    reference = processor(images=rgb_image, boxes=box)["pixel_values"]
    rgba = np.concatenate([rgb_image, np.full(rgb_image.shape[:2] + (1,), 7, np.uint8)], axis=2)
    for image in (Image.fromarray(rgb_image), rgba, Image.fromarray(rgba, "RGBA")):
        assert np.array_equal(processor(images=image, boxes=box)["pixel_values"], reference)
    grey = rgb_image[:, :, 1]
    for image in (grey, Image.fromarray(grey), grey[:, :, None]):
        out = processor(images=image, boxes=box)["pixel_values"][0]
        expected = processor(images=np.repeat(grey[:, :, None], 3, axis=2), boxes=box)["pixel_values"][0]
        assert np.array_equal(out, expected)
    cmyk = Image.fromarray(rgb_image).convert("CMYK")
    assert processor(images=cmyk, boxes=box)["pixel_values"].shape == (1, 3, 64, 64)
    # A file whose EXIF orientation says "rotate 90": read upright, as cv2.imread does.
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    Image.fromarray(rgb_image).save(path, exif=exif, quality=95)
    inputs = processor(images=str(path))
    assert inputs["image_sizes"].tolist() == [[240, 320]]


@pytest.mark.parametrize(
    "images, boxes, error, message",
    [
        (np.zeros((20, 20, 3), np.float32), None, ValueError, "uint8"),
        (np.zeros((20, 20, 2), np.uint8), None, ValueError, "(H, W, 3)"),
        (np.zeros((20, 20, 3), np.uint8), [[0, 0, 10, 10], [5, 5, 5, 9]], ValueError, "box 1 of image 0"),
        (np.zeros((20, 20, 3), np.uint8), [[0, 0, math.nan, 10]], ValueError, "box 0 of image 0"),
        (np.zeros((20, 20, 3), np.uint8), [[0, 0, 10]], ValueError, "(K, 4)"),
        ([np.zeros((9, 9, 3), np.uint8)] * 2, [[0, 0, 5, 5]], ValueError, "one entry per image"),
        (42, None, TypeError, "unsupported type int"),
        ("/nonexistent/dancer.jpg", None, ValueError, "could not be read"),
    ],
)
def test_bad_input_is_named(images, boxes, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        HardMoImageProcessor.from_preset("hmr", image_size=32)(images=images, boxes=boxes)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_save_and_load_keep_the_crop_rule(preset, tmp_path, rgb_image):
    from transformers import AutoImageProcessor

    import hardmo_hf  # noqa: F401  (registers the processor with AutoImageProcessor)

    processor = HardMoImageProcessor.from_preset(preset)
    processor.save_pretrained(tmp_path)
    config = (tmp_path / "preprocessor_config.json").read_text()
    assert '"crop_rule"' in config and '"bbox_aspect_ratio"' in config
    for loaded in (
        HardMoImageProcessor.from_pretrained(tmp_path),
        AutoImageProcessor.from_pretrained(tmp_path),
    ):
        assert type(loaded) is HardMoImageProcessor
        assert loaded.to_dict() == processor.to_dict()
        assert loaded.bbox_aspect_ratio == (
            None if PRESETS[preset]["bbox_aspect_ratio"] is None else [192.0, 256.0]
        )
    box = [[50, 30, 200, 220]]
    assert np.array_equal(
        loaded(images=rgb_image, boxes=box)["pixel_values"],
        processor(images=rgb_image, boxes=box)["pixel_values"],
    )


def test_presets_follow_the_model_config():
    from hardmo_hf.testing.models import tiny_config

    expected = {
        "hmr2": ("hmr2", 256, [192.0, 256.0]),
        "hmr": ("hmr2", 224, None),
        "bedlam": ("spin", 224, None),
    }
    for kind, (rule, size, aspect) in expected.items():
        config = tiny_config(kind)
        assert preset_for_config(config) == kind
        processor = HardMoImageProcessor.for_model_config(config)
        assert (processor.crop_rule, processor.image_size, processor.bbox_aspect_ratio) == (
            rule,
            size,
            aspect,
        )
    assert HardMoImageProcessor.for_model_config(tiny_config("hmr", image_size=256)).image_size == 256
    with pytest.raises(ValueError, match="bbox_aspect_ratio applies to the 'hmr2' crop rule only"):
        HardMoImageProcessor(crop_rule="spin", bbox_aspect_ratio=(192, 256))
    with pytest.raises(ValueError, match="crop_rule"):
        HardMoImageProcessor(crop_rule="bilinear")


# ----------------------------------------------------------------------------------------------------------
# Postprocessing
# ----------------------------------------------------------------------------------------------------------
def _fake_outputs(count, seed=0, body_joints=23, betas=10, focal=5000.0):
    """Model-shaped outputs with known values (what the processor must turn into per-person results)."""
    generator = torch.Generator().manual_seed(seed)
    axis_angle = torch.randn(count, 1 + body_joints, 3, generator=generator) * 0.7
    rotations = axis_angle_to_rotmat(axis_angle)
    return {
        "global_orient": rotations[:, :1],
        "body_pose": rotations[:, 1:],
        "betas": torch.randn(count, betas, generator=generator),
        "pred_cam": torch.tensor([[0.9, 0.05, -0.1], [0.6, -0.2, 0.15], [1.2, 0.0, 0.3]])[:count],
        "focal_length": torch.full((count, 2), focal),
    }, axis_angle


def test_post_process_gives_the_4dhumans_full_image_camera(rgb_image):
    processor = HardMoImageProcessor.from_preset("hmr2")
    boxes = [[10, 20, 110, 230], [150, 30, 300, 200], [0, 0, 320, 240]]
    inputs = processor(images=[rgb_image, rgb_image[:120]], boxes=[boxes[:2], boxes[2:]], return_tensors="pt")
    outputs, axis_angle = _fake_outputs(3)
    results = processor.post_process(outputs, inputs)
    assert [len(people) for people in results] == [2, 1]
    people = results[0] + results[1]
    for n, person in enumerate(people):
        width, height = (320, 240) if n < 2 else (320, 120)
        s, tx, ty = outputs["pred_cam"][n].double().tolist()
        cx, cy = inputs["box_center"][n].double().tolist()
        b = float(inputs["box_size"][n])
        focal = 5000.0 / 256 * max(width, height)
        bs = b * s + 1e-9
        expected = [2 * (cx - width / 2) / bs + tx, 2 * (cy - height / 2) / bs + ty, 2 * focal / bs]
        np.testing.assert_allclose(person["camera_translation"], expected, rtol=1e-6)
        assert float(person["focal_length"]) == pytest.approx(focal)
        assert person["principal_point"].tolist() == [width / 2, height / 2]
        np.testing.assert_allclose(person["global_orient"], axis_angle[n, 0].numpy(), atol=1e-5)
        np.testing.assert_allclose(person["body_pose"], axis_angle[n, 1:].reshape(-1).numpy(), atol=1e-5)
        assert person["body_pose"].shape == (69,) and person["betas"].shape == (10,)
        assert person["box"].tolist() == pytest.approx(boxes[n])
        assert all(value.dtype == np.float32 for value in person.values())
        assert "vertices" not in person and "keypoints_2d" not in person


class _FlatBody(torch.nn.Module):
    """A body model whose joints lie in the z = 0 plane of the body frame (exact test geometry)."""

    def forward(self, global_orient, body_pose, betas):
        count = betas.shape[0]
        joints = torch.zeros(count, 45, 3)
        joints[..., :2] = torch.linspace(-0.8, 0.8, 90).reshape(1, 45, 2)
        return {"vertices": torch.ones(count, 6890, 3), "joints45": joints}


def test_keypoints_match_the_crop_projection_on_the_body_plane(rgb_image):
    """For body-frame points at z = 0 the full-image camera and the crop camera project identically:
    u = cx + b * s * (X + tx) / 2 (the construction of cam_crop_to_full)."""
    from hardmo_hf.models.constants_hardmo import SMPLX45_TO_WHOLEBODY33

    processor = HardMoImageProcessor.from_preset("hmr")
    inputs = processor(images=rgb_image, boxes=[[10, 20, 110, 230], [150, 30, 300, 200]], return_tensors="pt")
    outputs, _ = _fake_outputs(2)
    people = processor.post_process(outputs, inputs, body_model=_FlatBody())[0]
    joints = _FlatBody()(None, None, torch.zeros(1, 10))["joints45"][0, list(SMPLX45_TO_WHOLEBODY33)]
    for n, person in enumerate(people):
        s, tx, ty = outputs["pred_cam"][n].tolist()
        cx, cy = inputs["box_center"][n].tolist()
        b = float(inputs["box_size"][n])
        expected = np.stack([cx + b * s * (joints[:, 0] + tx) / 2, cy + b * s * (joints[:, 1] + ty) / 2], -1)
        assert person["keypoints_2d"].shape == (33, 2)
        np.testing.assert_allclose(person["keypoints_2d"], expected, atol=1e-3)
        expected_vertices = np.broadcast_to(1.0 + person["camera_translation"], (6890, 3))
        np.testing.assert_allclose(person["vertices"], expected_vertices, rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(person["keypoints_3d"][:, 2], person["camera_translation"][2], rtol=1e-6)


def test_post_process_uses_the_models_mesh(rgb_image, synthetic_smpl_dir):
    from hardmo_hf.testing.models import make_tiny_model

    model = make_tiny_model("hmr")
    model.attach_body_model(synthetic_smpl_dir / "SMPL_NEUTRAL.pkl")
    processor = HardMoImageProcessor.for_model_config(model.config)
    inputs = processor(images=rgb_image, boxes=[[10, 20, 110, 230]], return_tensors="pt")
    with torch.no_grad():
        outputs = model(pixel_values=inputs["pixel_values"])
    person = processor.post_process(outputs, inputs)[0][0]
    expected = outputs.vertices[0].numpy() + person["camera_translation"][None]
    np.testing.assert_allclose(person["vertices"], expected, rtol=1e-5, atol=1e-5)
    assert person["keypoints_2d"].shape == (33, 2) and np.isfinite(person["keypoints_2d"]).all()
    # Crop projection (the model's) and full-image projection agree up to perspective effects.
    crop_px = outputs.wholebody_2d[0].numpy() * float(inputs["box_size"][0]) + inputs["box_center"][0].numpy()
    assert np.abs(person["keypoints_2d"] - crop_px).max() < 0.05 * float(inputs["box_size"][0])


def test_post_process_handles_smplx_bodies_and_rejects_mismatches(rgb_image):
    processor = HardMoImageProcessor.from_preset("bedlam")
    inputs = processor(images=rgb_image, boxes=[[10, 20, 110, 230], [150, 30, 300, 200]])
    outputs, _ = _fake_outputs(2, body_joints=21, betas=11)
    person = processor.post_process(outputs, inputs)[0][1]
    assert person["body_pose"].shape == (63,) and person["betas"].shape == (11,)
    too_few, _ = _fake_outputs(1)
    with pytest.raises(ValueError, match="1 people but inputs describe 2 crops"):
        processor.post_process(too_few, inputs)
