"""``HardMoImageProcessor``: person crops in, model inputs out; model outputs in, per-person results out.

Preprocessing (:meth:`HardMoImageProcessor.preprocess`): images + person boxes -> one square crop per box,
cut exactly as the upstream code cuts it (``crop_rule``, see :mod:`.cropping_hardmo`) and normalised as
upstream normalises it. Postprocessing (:meth:`HardMoImageProcessor.post_process`): the model's crop-frame
outputs -> per-person SMPL parameters (axis-angle), the full-image camera and, with a body model, the mesh and
keypoints in the full image.

Coordinate frames
-----------------
* **Image pixels**: x right, y down, origin at the top-left corner of the top-left pixel, so pixel ``(row i,
  column j)`` has its centre at ``(j, i)`` and a box covering a ``W x H`` image is ``[0, 0, W, H]``.
  Boxes are ``[x1, y1, x2, y2]`` in image pixels.
* **Crop window**: the square of side ``box_size`` px centred at ``box_center`` (image px) that is resampled
  to the ``image_size`` x ``image_size`` patch; patch px = ``(image px - box_center) * image_size / box_size +
  image_size / 2``.
* **Camera frame** (OpenCV convention): x right, y down, z forward, metres. SMPL rotations are in this frame
  (``global_orient`` rotates the body into it); the body's root-relative mesh plus ``camera_translation`` is
  in it.
* **Full-image camera**: a pinhole camera with one focal length ``focal_length`` px and the principal point
  at the image centre ``(W / 2, H / 2)``; a camera-frame point ``(X, Y, Z)`` projects to
  ``(f X / Z + W / 2, f Y / Z + H / 2)`` image px. As in 4D-Humans' demo (``cam_crop_to_full``),
  ``f = f_crop / image_size * max(W, H)`` with ``f_crop`` = the model's crop focal length (5000 px), and the
  crop's weak-perspective camera ``[s, tx, ty]`` becomes the translation
  ``[tx + 2 (cx - W/2) / (b s), ty + 2 (cy - H/2) / (b s), 2 f / (b s)]`` (``b`` = ``box_size``,
  ``(cx, cy)`` = ``box_center``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, TypedDict

import numpy as np
import torch
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature

from .constants_hardmo import IMAGENET_MEAN, IMAGENET_STD, NUM_SMPLX45_JOINTS, SMPLX45_TO_WHOLEBODY33
from .cropping_hardmo import crop_hmr2, crop_spin, hmr2_crop_window, spin_crop_window
from .geometry_hardmo import CAM_DEPTH_EPS, rotmat_to_axis_angle

CROP_RULES = ("hmr2", "spin")

# Crop settings of each released model (``HardMoImageProcessor.from_preset``).
PRESETS = {
    # HMR 2.0 / HardMo-4DHumans: 4D-Humans ViTDetDataset, box grown to 192:256, 256 px (the ViT sees the
    # central 192 columns).
    "hmr2": {"crop_rule": "hmr2", "image_size": 256, "bbox_aspect_ratio": (192, 256)},
    # HardMo-HMR: the same routine at 224 px, the whole square fed. The authors' model_config.yaml (shipped
    # with the checkpoint only) sets no BBOX_SHAPE in the public code path, so the raw box is kept.
    "hmr": {"crop_rule": "hmr2", "image_size": 224, "bbox_aspect_ratio": None},
    # BEDLAM-HMR: SPIN's square crop (side = longer box side) at 224 px.
    "bedlam": {"crop_rule": "spin", "image_size": 224, "bbox_aspect_ratio": None},
}


class HardMoImageProcessorKwargs(TypedDict, total=False):
    """The settings of :class:`HardMoImageProcessor` (saved in ``preprocessor_config.json``)."""

    crop_rule: str
    image_size: int
    bbox_aspect_ratio: list[float] | tuple[float, float] | None
    antialias: bool
    image_mean: list[float] | tuple[float, ...]
    image_std: list[float] | tuple[float, ...]


class HardMoImageProcessor(BaseImageProcessor):
    r"""Crops people out of images for the HardMo models; turns the models' outputs into per-person results.

    Args:
        crop_rule (`str`, *optional*, defaults to `"hmr2"`):
            ``"hmr2"``: 4D-Humans' ``ViTDetDataset`` (box grown to ``bbox_aspect_ratio``, square of the longer
            side, anti-aliasing blur when shrinking more than 2.2x, bilinear affine warp, zero border;
            normalised as ``(x - 255 mean) / (255 std)`` in float64). ``"spin"``: SPIN's crop used by BEDLAM
            (square of the longer box side cut on integer pixels, zeros outside the image, scikit-image
            resize; normalised as ``(x / 255 - mean) / std`` in float32). See :mod:`.cropping_hardmo`.
        image_size (`int`, *optional*, defaults to 256): side ``S`` of the square patch in pixels.
        bbox_aspect_ratio (`tuple[float, float]`, *optional*, defaults to `(192, 256)`): ``(width, height)``
            aspect the box is grown to before taking its longer side (``"hmr2"`` rule); ``None`` keeps it.
        antialias (`bool`, *optional*, defaults to `True`): blur before shrinking, as upstream. ``False``
            departs from upstream (faster on large boxes, aliased crops).
        image_mean (`tuple[float]`, *optional*, defaults to ImageNet's): per-channel RGB mean in [0, 1].
        image_std (`tuple[float]`, *optional*, defaults to ImageNet's): per-channel RGB std in [0, 1].

    Presets of the released models: :meth:`from_preset` ``("hmr2" | "hmr" | "bedlam")`` and
    :meth:`for_model_config`.
    """

    valid_kwargs = HardMoImageProcessorKwargs
    model_input_names: ClassVar[list[str]] = ["pixel_values"]
    # Class-level defaults: ``to_dict`` keeps an explicit ``None`` (e.g. ``bbox_aspect_ratio``) only when the
    # class default is not ``None``.
    crop_rule = "hmr2"
    image_size = 256
    bbox_aspect_ratio = (192.0, 256.0)
    antialias = True
    image_mean = IMAGENET_MEAN
    image_std = IMAGENET_STD

    def __init__(
        self,
        crop_rule: str = "hmr2",
        image_size: int = 256,
        bbox_aspect_ratio: Sequence[float] | None = (192, 256),
        antialias: bool = True,
        image_mean: Sequence[float] = IMAGENET_MEAN,
        image_std: Sequence[float] = IMAGENET_STD,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if crop_rule not in CROP_RULES:
            raise ValueError(f"crop_rule {crop_rule!r} is not one of {CROP_RULES}")
        if int(image_size) < 1:
            raise ValueError(f"image_size must be a positive number of pixels, got {image_size}")
        if bbox_aspect_ratio is not None:
            if len(bbox_aspect_ratio) != 2 or min(bbox_aspect_ratio) <= 0:
                raise ValueError(
                    f"bbox_aspect_ratio must be (width, height) > 0 or None, got {bbox_aspect_ratio}"
                )
            if crop_rule == "spin":
                raise ValueError(
                    "bbox_aspect_ratio applies to the 'hmr2' crop rule only; SPIN crops are square"
                )
            bbox_aspect_ratio = [float(v) for v in bbox_aspect_ratio]
        if len(image_mean) != 3 or len(image_std) != 3 or min(image_std) <= 0:
            raise ValueError(f"image_mean/image_std need 3 values (std > 0), got {image_mean} / {image_std}")
        self.crop_rule = crop_rule
        self.image_size = int(image_size)
        self.bbox_aspect_ratio = bbox_aspect_ratio
        self.antialias = bool(antialias)
        self.image_mean = [float(v) for v in image_mean]
        self.image_std = [float(v) for v in image_std]

    # ------------------------------------------------------------------------------------------------------
    # Presets
    # ------------------------------------------------------------------------------------------------------
    @classmethod
    def from_preset(cls, name: str, **overrides) -> HardMoImageProcessor:
        """The processor of a released model: ``"hmr2"`` (HardMo-4DHumans / HMR 2.0), ``"hmr"`` (HardMo-HMR)
        or ``"bedlam"`` (BEDLAM-HMR); ``overrides`` replace settings."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; expected one of {tuple(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    @classmethod
    def for_model_config(cls, config, **overrides) -> HardMoImageProcessor:
        """The processor matching a HardMo model config (its type, flavor and ``image_size``)."""
        return cls.from_preset(preset_for_config(config), **{"image_size": config.image_size, **overrides})

    # ------------------------------------------------------------------------------------------------------
    # Preprocessing
    # ------------------------------------------------------------------------------------------------------
    def preprocess(self, images, boxes=None, return_tensors=None, **kwargs) -> BatchFeature:
        r"""Crop every person box out of its image.

        Args:
            images: one image or a list of images: ``PIL.Image.Image``, ``numpy.ndarray`` ``(H, W, 3)`` /
                ``(H, W, 4)`` / ``(H, W)`` uint8 RGB(A) or grey, or a file path / URL (decoded with its EXIF
                orientation applied, as ``cv2.imread`` does). In-memory images are used as given: boxes refer
                to their pixels.
            boxes: person boxes ``[x1, y1, x2, y2]`` in image pixels. For one image an array-like ``(K, 4)``
                (or one ``(4,)`` box); for a list of images a list with one such entry per image. ``None``
                (or a ``None`` entry) uses the whole image as one box. ``K = 0`` is allowed (no crops).
            return_tensors: ``"pt"``, ``"np"`` or ``None`` (numpy arrays).

        Returns:
            `BatchFeature` with, for the ``N`` boxes of all images in order:

            - ``pixel_values`` ``(N, 3, S, S)`` float32: normalised RGB crops;
            - ``box_center`` ``(N, 2)`` float32: crop-window centre, image px;
            - ``box_size`` ``(N,)`` float32: crop-window side, image px;
            - ``img_size`` ``(N, 2)`` float32: ``[W, H]`` of the box's image, px;
            - ``boxes`` ``(N, 4)`` float32: the input boxes, image px;
            - ``image_index`` ``(N,)`` int64: index of the box's image in ``images``;
            - ``image_sizes`` ``(M, 2)`` float32: ``[W, H]`` of each of the ``M`` input images.
        """
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)}")
        image_list, box_list = _pair_images_and_boxes(images, boxes)
        size = self.image_size
        crops, centers, sides, img_sizes, all_boxes, image_index, image_sizes = [], [], [], [], [], [], []
        for i, (image, image_boxes) in enumerate(zip(image_list, box_list)):
            array = _to_rgb_uint8(image, i)
            height, width = array.shape[:2]
            image_sizes.append([width, height])
            if image_boxes is None:
                image_boxes = np.array([[0.0, 0.0, width, height]], dtype=np.float32)
            for k, box in enumerate(_validate_boxes(image_boxes, i)):
                if self.crop_rule == "hmr2":
                    center, side = hmr2_crop_window(box, self.bbox_aspect_ratio)
                    patch = crop_hmr2(array, center, side, size, antialias=self.antialias)
                else:
                    center, side = spin_crop_window(box)
                    try:
                        patch = crop_spin(array, center, side, size, antialias=self.antialias)
                    except ValueError as exc:
                        raise ValueError(f"image {i}, box {k} {box.tolist()}: {exc}") from None
                crops.append(self._normalize(patch))
                centers.append(center)
                sides.append(side)
                img_sizes.append([width, height])
                all_boxes.append(box)
                image_index.append(i)
        data = {
            "pixel_values": np.stack(crops) if crops else np.zeros((0, 3, size, size), np.float32),
            "box_center": np.asarray(centers, np.float32).reshape(-1, 2),
            "box_size": np.asarray(sides, np.float32).reshape(-1),
            "img_size": np.asarray(img_sizes, np.float32).reshape(-1, 2),
            "boxes": np.asarray(all_boxes, np.float32).reshape(-1, 4),
            "image_index": np.asarray(image_index, np.int64).reshape(-1),
            "image_sizes": np.asarray(image_sizes, np.float32).reshape(-1, 2),
        }
        return BatchFeature(data=data, tensor_type=return_tensors)

    def _normalize(self, patch: np.ndarray) -> np.ndarray:
        """``(S, S, 3)`` float64 0..255 RGB -> ``(3, S, S)`` float32, as the rule's upstream code does it."""
        chw = np.ascontiguousarray(patch.transpose(2, 0, 1))
        if self.crop_rule == "hmr2":
            # 4D-Humans: (x - 255 mean) / (255 std) with float64 constants (computed in float64, then cast).
            mean = 255.0 * np.asarray(self.image_mean, np.float64)[:, None, None]
            std = 255.0 * np.asarray(self.image_std, np.float64)[:, None, None]
            return ((chw.astype(np.float32).astype(np.float64) - mean) / std).astype(np.float32)
        # BEDLAM: float32 / 255, then torchvision Normalize in float32.
        x = chw.astype(np.float32) / np.float32(255.0)
        mean = np.asarray(self.image_mean, np.float32)[:, None, None]
        std = np.asarray(self.image_std, np.float32)[:, None, None]
        return (x - mean) / std

    # ------------------------------------------------------------------------------------------------------
    # Postprocessing
    # ------------------------------------------------------------------------------------------------------
    def post_process(self, outputs, inputs, body_model=None) -> list[list[dict]]:
        r"""Per-image lists of per-person results (frames: see the module docstring).

        Args:
            outputs: the model's output (``HardMoMeshOutput`` or a dict) for ``inputs["pixel_values"]``:
                ``global_orient`` ``(N, 1, 3, 3)``, ``body_pose`` ``(N, J - 1, 3, 3)``, ``betas`` ``(N, B)``,
                ``pred_cam`` ``(N, 3)``, ``focal_length`` ``(N, 2)`` (crop px); optionally ``vertices``
                ``(N, V, 3)`` and ``joints`` ``(N, 45, 3)`` (metres, body frame) from an attached body model.
            inputs: what :meth:`preprocess` returned for those crops.
            body_model: optional callable ``(global_orient=, body_pose=, betas=)`` taking rotation matrices
                and returning ``vertices`` and ``joints45`` (an object or a dict; e.g. ``SMPLBodyModel``),
                used when ``outputs`` carries no mesh.

        Returns:
            ``results[m]`` lists the people of image ``m`` in box order; each person is a dict of arrays:

            - ``box`` ``(4,)`` the input box, ``box_center`` ``(2,)``, ``box_size`` ``()``: image px;
            - ``global_orient`` ``(3,)``, ``body_pose`` ``(3 (J - 1),)`` (69 for SMPL): axis-angle, radians;
              ``betas`` ``(B,)``;
            - ``pred_cam`` ``(3,)``: the crop's weak-perspective camera ``[s, tx, ty]``;
            - ``camera_translation`` ``(3,)`` metres: the body's root-relative model output plus this
              translation is in the full-image camera frame;
            - ``focal_length`` ``()`` px and ``principal_point`` ``(2,)`` px: the full-image camera;
            - ``image_size`` ``(2,)``: ``[W, H]`` px;
            - with a mesh: ``vertices`` ``(V, 3)`` metres, full-image camera frame; and when the body model
              gives the 45 smplx SMPL joints, ``keypoints_3d`` ``(33, 3)`` (the WholeBody-33 joints, metres,
              camera frame) and ``keypoints_2d`` ``(33, 2)``: those joints projected by the full-image camera,
              image px.
        """
        global_orient = _get(outputs, "global_orient")
        body_pose = _get(outputs, "body_pose")
        betas = _get(outputs, "betas")
        pred_cam = _get(outputs, "pred_cam").detach().double().cpu()
        crop_focal = _get(outputs, "focal_length").detach().double().cpu()[:, 0]
        count = pred_cam.shape[0]
        box_center = _as_tensor(inputs["box_center"]).reshape(-1, 2)
        box_size = _as_tensor(inputs["box_size"]).reshape(-1)
        img_size = _as_tensor(inputs["img_size"]).reshape(-1, 2)
        if box_center.shape[0] != count:
            raise ValueError(f"outputs hold {count} people but inputs describe {box_center.shape[0]} crops")

        # Full-image camera (4D-Humans cam_crop_to_full, with this processor's crop size).
        focal = crop_focal / self.image_size * img_size.max(dim=1).values
        scaled = box_size * pred_cam[:, 0] + CAM_DEPTH_EPS
        translation = torch.stack(
            [
                2 * (box_center[:, 0] - img_size[:, 0] / 2) / scaled + pred_cam[:, 1],
                2 * (box_center[:, 1] - img_size[:, 1] / 2) / scaled + pred_cam[:, 2],
                2 * focal / scaled,
            ],
            dim=-1,
        )
        principal_point = img_size / 2

        rotations = torch.cat([global_orient.detach(), body_pose.detach()], dim=1).double().cpu()
        axis_angle = rotmat_to_axis_angle(rotations).reshape(count, -1)

        vertices, joints = _get(outputs, "vertices", required=False), _get(outputs, "joints", required=False)
        if (vertices is None or joints is None) and body_model is not None:
            with torch.no_grad():
                body = body_model(global_orient=global_orient, body_pose=body_pose, betas=betas)
            vertices, joints = _get(body, "vertices"), _get(body, "joints45", "joints")
        keypoints_3d = keypoints_2d = None
        if vertices is not None and joints is not None and joints.shape[1] != NUM_SMPLX45_JOINTS:
            joints = None  # not the 45 smplx SMPL joints (e.g. an SMPL-X layer): no WholeBody-33 keypoints
        if vertices is not None:
            vertices = vertices.detach().double().cpu() + translation[:, None, :]
        if joints is not None:
            keypoints_3d = (
                joints.detach().double().cpu()[:, list(SMPLX45_TO_WHOLEBODY33)] + translation[:, None, :]
            )
            keypoints_2d = (
                keypoints_3d[..., :2] / keypoints_3d[..., 2:3] * focal[:, None, None]
                + principal_point[:, None]
            )

        num_images = int(_as_tensor(inputs["image_sizes"]).reshape(-1, 2).shape[0])
        image_index = _as_tensor(inputs["image_index"]).reshape(-1).long().tolist()
        results: list[list[dict]] = [[] for _ in range(num_images)]
        boxes = _as_tensor(inputs["boxes"]).reshape(-1, 4)
        for n in range(count):
            person = {
                "box": boxes[n],
                "box_center": box_center[n],
                "box_size": box_size[n],
                "global_orient": axis_angle[n, :3],
                "body_pose": axis_angle[n, 3:],
                "betas": betas[n].detach().double().cpu(),
                "pred_cam": pred_cam[n],
                "camera_translation": translation[n],
                "focal_length": focal[n],
                "principal_point": principal_point[n],
                "image_size": img_size[n],
            }
            if vertices is not None:
                person["vertices"] = vertices[n]
            if keypoints_3d is not None:
                person.update(keypoints_3d=keypoints_3d[n], keypoints_2d=keypoints_2d[n])
            results[image_index[n]].append({k: v.numpy().astype(np.float32) for k, v in person.items()})
        return results


# ----------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------
def preset_for_config(config) -> str:
    """``"hmr2"``, ``"hmr"`` or ``"bedlam"`` for a HardMo model config."""
    model_type = getattr(config, "model_type", None)
    if model_type == "hardmo_hmr2":
        return "hmr2"
    if model_type == "hardmo_hmr":
        return "bedlam" if getattr(config, "flavor", "hardmo") == "bedlam" else "hmr"
    raise ValueError(f"not a HardMo model config: model_type {model_type!r}")


def _is_single_image(images) -> bool:
    return not isinstance(images, (list, tuple))


def _pair_images_and_boxes(images, boxes):
    if _is_single_image(images):
        return [images], [None if boxes is None else boxes]
    image_list = list(images)
    if boxes is None:
        return image_list, [None] * len(image_list)
    if not isinstance(boxes, (list, tuple)) or len(boxes) != len(image_list):
        raise ValueError(
            f"for a list of {len(image_list)} images, boxes must be a list with one entry per image "
            f"(each (K, 4) xyxy px, or None for the whole image); got {type(boxes).__name__}"
            + (f" of length {len(boxes)}" if isinstance(boxes, (list, tuple)) else "")
        )
    return image_list, list(boxes)


def _to_rgb_uint8(image, index: int) -> np.ndarray:
    """Any supported image -> ``(H, W, 3)`` uint8 RGB, with an error naming the image on bad input."""
    from PIL import Image

    if isinstance(image, str):
        from transformers.image_utils import load_image

        try:
            image = load_image(image)  # URL, path or base64; EXIF orientation applied, RGB
        except Exception as exc:  # noqa: BLE001 (any decoding/network failure -> one clear message)
            raise ValueError(f"image {index} ({image[:200]!r}) could not be read: {exc}") from None
    if isinstance(image, Image.Image):
        if image.mode != "RGB":
            image = image.convert("RGB")  # L, LA, P, RGBA (alpha dropped), CMYK, I;16, ...
        return np.asarray(image, dtype=np.uint8)
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise ValueError(
                f"image {index}: numpy images must be uint8 RGB (0..255), got dtype {image.dtype}"
            )
        if image.ndim == 2:
            return np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim == 3 and image.shape[2] in (3, 4):
            return np.ascontiguousarray(image[:, :, :3])
        if image.ndim == 3 and image.shape[2] == 1:
            return np.repeat(image, 3, axis=2)
        raise ValueError(f"image {index}: expected an (H, W, 3) RGB array, got shape {image.shape}")
    raise TypeError(
        f"image {index}: unsupported type {type(image).__name__}; pass a PIL image, an (H, W, 3) uint8 numpy "
        "array, a file path or a URL"
    )


def _validate_boxes(boxes, index: int) -> np.ndarray:
    if isinstance(boxes, torch.Tensor):
        boxes = boxes.detach().cpu().numpy()
    array = np.asarray(boxes, dtype=np.float64)
    if array.ndim == 1 and array.shape[0] == 4:
        array = array[None]
    if array.size == 0:
        return np.zeros((0, 4), np.float32)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(
            f"boxes of image {index} must be (K, 4) [x1, y1, x2, y2] px, got shape {array.shape}"
        )
    for k, box in enumerate(array):
        if not np.all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
            raise ValueError(
                f"box {k} of image {index} is {box.tolist()}: "
                "need finite [x1, y1, x2, y2] px with x2 > x1 and y2 > y1"
            )
    return array.astype(np.float32)


def _as_tensor(value) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().double().cpu()
    return torch.as_tensor(np.asarray(value), dtype=torch.float64)


def _get(container, *names, required: bool = True):
    for name in names:
        value = container.get(name) if isinstance(container, dict) else getattr(container, name, None)
        if value is not None:
            return value
    if required:
        raise ValueError(f"expected one of {names} in {type(container).__name__}")
    return None


HardMoImageProcessor.register_for_auto_class("AutoImageProcessor")

__all__ = ["CROP_RULES", "PRESETS", "HardMoImageProcessor", "preset_for_config"]
