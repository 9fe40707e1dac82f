"""CPU mesh renderer for the demo: z-buffered triangle rasterization in torch, no OpenGL.

Coordinate frame (the full-image camera of the models' ``post_process``, OpenCV convention):

* vertices are in metres in the camera frame: ``x`` right, ``y`` down, ``z`` forward (away from the camera);
* a point projects to pixels as ``u = f * x / z + cx``, ``v = f * y / z + cy`` with one focal length ``f`` in
  px and the principal point ``(cx, cy)`` (by default the image centre ``(W / 2, H / 2)``);
* pixel ``(row i, column j)`` is sampled at its centre ``(u, v) = (j + 0.5, i + 0.5)``, so the image spans
  ``[0, W] x [0, H]`` in continuous pixel coordinates, the same convention as the 2D keypoints.

Rasterization is vectorized per triangle bounding box: every pixel centre of every triangle's bounding box
becomes one candidate (flattened, no padding), edge functions test them all at once, and a single
``scatter_reduce(amin)`` over a packed ``(depth, face)`` int64 key resolves visibility between all
meshes (people occlude each other correctly). Shading is Blinn-Phong with smoothly interpolated vertex
normals, one directional light plus ambient, two-sided (normals are turned towards the camera, so the
face winding does not matter). The shaded meshes are blended over the image with a constant opacity.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..constants import WHOLEBODY33_SKELETON

# Distinct, light colours (RGB in [0, 1]) that read well over photos; person k gets PALETTE[k % len].
PERSON_COLORS = (
    (0.65, 0.74, 0.86),  # light blue
    (0.93, 0.62, 0.45),  # salmon
    (0.60, 0.85, 0.60),  # light green
    (0.85, 0.65, 0.90),  # lilac
    (0.95, 0.85, 0.45),  # sand
    (0.50, 0.85, 0.85),  # teal
    (0.90, 0.55, 0.65),  # rose
    (0.75, 0.75, 0.75),  # grey
)

_NEAR_Z = 1e-2  # m: triangles with a vertex closer than this to the camera plane are dropped
_MAX_FRAGMENTS_PER_CHUNK = 1 << 21  # candidate pixels per rasterization step (bounds memory to ~150 MB)
_NO_HIT = torch.iinfo(torch.int64).max


def person_color(index: int) -> tuple[float, float, float]:
    """The RGB colour in [0, 1] of person ``index`` (cycles through :data:`PERSON_COLORS`)."""
    return PERSON_COLORS[index % len(PERSON_COLORS)]


@dataclass
class Lighting:
    """A directional light plus ambient, Blinn-Phong. Directions are in the camera frame (x right, y down,
    z forward); ``direction`` points from the surface towards the light."""

    direction: tuple[float, float, float] = (-0.35, -0.6, -1.0)  # upper left, from the camera side
    ambient: float = 0.35
    diffuse: float = 0.65
    specular: float = 0.25
    shininess: float = 24.0


@dataclass
class Rasterization:
    """The visible surface of a set of triangles over an ``H x W`` image.

    ``face_index``: (H, W) int64, index of the visible face, -1 where no face covers the pixel centre.
    ``depth``: (H, W) float32, camera-frame z in metres of the visible surface, +inf where empty.
    """

    face_index: torch.Tensor
    depth: torch.Tensor


def project_points(
    points: torch.Tensor, focal_length: float, principal_point: tuple[float, float]
) -> torch.Tensor:
    """Camera-frame points (..., 3) in metres -> pixel coordinates (..., 2) (continuous, see module doc)."""
    z = points[..., 2:3]
    cx, cy = principal_point
    offset = points.new_tensor([cx, cy])
    return focal_length * points[..., :2] / z + offset


def rasterize(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    image_size: tuple[int, int],
    focal_length: float,
    principal_point: tuple[float, float] | None = None,
) -> Rasterization:
    """Z-buffer the triangles ``faces`` (F, 3) int64 of camera-frame ``vertices`` (V, 3) m over an image of
    ``image_size = (H, W)`` px. Triangles that come closer than 1 cm to the camera plane are skipped."""
    height, width = image_size
    if principal_point is None:
        principal_point = (width / 2.0, height / 2.0)
    vertices = vertices.to(torch.float32)
    faces = faces.to(torch.int64)
    face_index = torch.full((height * width,), _NO_HIT, dtype=torch.int64)
    if faces.numel() == 0:
        return _finish(face_index, height, width)

    uv = project_points(vertices, focal_length, principal_point)  # (V, 2) px
    tri_uv = uv[faces]  # (F, 3, 2)
    tri_z = vertices[:, 2][faces]  # (F, 3)
    keep = (tri_z > _NEAR_Z).all(dim=1) & torch.isfinite(tri_uv).all(dim=(1, 2))

    # Pixel-centre bounding boxes: column j is sampled at u = j + 0.5.
    lo = torch.ceil(tri_uv.amin(dim=1) - 0.5)
    hi = torch.floor(tri_uv.amax(dim=1) - 0.5)
    lo[:, 0].clamp_(0, width - 1)
    lo[:, 1].clamp_(0, height - 1)
    hi[:, 0].clamp_(-1, width - 1)
    hi[:, 1].clamp_(-1, height - 1)
    keep &= (hi >= lo).all(dim=1)
    (a, b, c) = tri_uv[:, 0], tri_uv[:, 1], tri_uv[:, 2]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    keep &= area.abs() > 1e-9
    ids = torch.nonzero(keep).squeeze(1)
    if ids.numel() == 0:
        return _finish(face_index, height, width)

    lo, hi = lo[ids].to(torch.int64), hi[ids].to(torch.int64)
    extent = hi - lo + 1  # (T, 2) columns, rows of each bounding box
    # Edge-function coefficients relative to each box's corner (small numbers keep float32 exact enough):
    # barycentric weight k of the pixel centre at box offset (ox, oy) is A_k * ox + B_k * oy + C_k.
    local = tri_uv[ids] - lo[:, None, :].to(torch.float32) - 0.5  # (T, 3, 2)
    inv_area = 1.0 / area[ids]
    coeffs = torch.stack([_edge_coefficients(local, k, inv_area) for k in (0, 1)], dim=1)  # (T, 2, 3)
    inv_z = 1.0 / tri_z[ids]  # (T, 3)
    counts = extent[:, 0] * extent[:, 1]
    fragment_pix, fragment_key = [], []
    # Process triangles in chunks whose boxes hold at most _MAX_FRAGMENTS_PER_CHUNK pixels together.
    chunk_of = torch.div(torch.cumsum(counts, 0) - counts, _MAX_FRAGMENTS_PER_CHUNK, rounding_mode="floor")
    bounds = torch.searchsorted(chunk_of, torch.arange(int(chunk_of[-1]) + 2)).tolist()
    for begin, stop in itertools.pairwise(bounds):
        if stop <= begin:
            continue
        n = counts[begin:stop]
        tri = torch.repeat_interleave(torch.arange(begin, stop), n)  # (K,) triangle of each candidate
        offset = torch.arange(int(n.sum())) - torch.repeat_interleave(torch.cumsum(n, 0) - n, n)
        box_w = extent[tri, 0]
        ox, oy = offset % box_w, torch.div(offset, box_w, rounding_mode="floor")
        c = coeffs[tri]  # (K, 2, 3)
        oxf, oyf = ox.to(torch.float32), oy.to(torch.float32)
        w0 = c[:, 0, 0] * oxf + c[:, 0, 1] * oyf + c[:, 0, 2]
        w1 = c[:, 1, 0] * oxf + c[:, 1, 1] * oyf + c[:, 1, 2]
        w2 = 1.0 - w0 - w1
        inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
        if not bool(inside.any()):
            continue
        sel = torch.nonzero(inside).squeeze(1)
        tri, w = tri[sel], torch.stack([w0[sel], w1[sel], w2[sel]], dim=1)
        depth = 1.0 / (w * inv_z[tri]).sum(dim=1)  # perspective-correct z (m)
        depth_bits = depth.view(torch.int32).to(torch.int64)  # float32 bits are monotonic for z > 0
        fragment_key.append((depth_bits << 32) | ids[tri])
        fragment_pix.append((lo[tri, 1] + oy[sel]) * width + lo[tri, 0] + ox[sel])
    if fragment_pix:
        face_index.scatter_reduce_(0, torch.cat(fragment_pix), torch.cat(fragment_key), reduce="amin")
    return _finish(face_index, height, width)


def _edge_coefficients(tri_uv: torch.Tensor, k: int, inv_area: torch.Tensor) -> torch.Tensor:
    """(T, 3) coefficients (A, B, C) with barycentric weight of vertex ``k`` = A * x + B * y + C."""
    b, c = tri_uv[:, (k + 1) % 3], tri_uv[:, (k + 2) % 3]
    a_coef = (b[:, 1] - c[:, 1]) * inv_area
    b_coef = (c[:, 0] - b[:, 0]) * inv_area
    c_coef = (b[:, 0] * c[:, 1] - b[:, 1] * c[:, 0]) * inv_area
    return torch.stack([a_coef, b_coef, c_coef], dim=1)


def _barycentric(
    tri_uv: torch.Tensor, inv_area: torch.Tensor, x: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """Screen-space barycentric weights (T, G, 3) of points (x, y) (T, G) in triangles (T, 3, 2)."""
    a, b, c = tri_uv[:, 0, :, None], tri_uv[:, 1, :, None], tri_uv[:, 2, :, None]  # (T, 2, 1)
    w0 = ((b[:, 0] - x) * (c[:, 1] - y) - (b[:, 1] - y) * (c[:, 0] - x)) * inv_area[:, None]
    w1 = ((c[:, 0] - x) * (a[:, 1] - y) - (c[:, 1] - y) * (a[:, 0] - x)) * inv_area[:, None]
    return torch.stack([w0, w1, 1.0 - w0 - w1], dim=-1)


def _finish(packed: torch.Tensor, height: int, width: int) -> Rasterization:
    hit = packed != _NO_HIT
    face_index = torch.where(hit, packed & 0xFFFFFFFF, torch.full_like(packed, -1))
    depth = torch.full((height * width,), float("inf"), dtype=torch.float32)
    depth[hit] = (packed[hit] >> 32).to(torch.int32).view(torch.float32)
    return Rasterization(face_index.view(height, width), depth.view(height, width))


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted unit vertex normals (V, 3) of a triangle mesh (orientation follows the winding)."""
    tri = vertices[faces]  # (F, 3, 3)
    face_normal = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=1)
    normals = torch.zeros_like(vertices)
    for corner in range(3):
        normals.index_add_(0, faces[:, corner], face_normal)
    return torch.nn.functional.normalize(normals, dim=1, eps=1e-12)


def render_meshes(
    image: np.ndarray,
    meshes: Sequence[np.ndarray | torch.Tensor],
    faces: np.ndarray | torch.Tensor,
    focal_length: float,
    principal_point: tuple[float, float] | None = None,
    colors: Sequence[tuple[float, float, float]] | None = None,
    opacity: float = 0.85,
    lighting: Lighting | None = None,
) -> np.ndarray:
    """Render several meshes over an image.

    Args:
        image: (H, W, 3) uint8 RGB.
        meshes: one (V, 3) array per person, camera-frame vertices in metres (see module doc).
        faces: (F, 3) vertex indices shared by all meshes (the SMPL topology).
        focal_length: px. ``principal_point``: px, default the image centre.
        colors: one RGB in [0, 1] per mesh; default :func:`person_color`.
        opacity: in [0, 1], how much of the shaded mesh covers the image.

    Returns:
        (H, W, 3) uint8 RGB, a new array.
    """
    image = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
    if len(meshes) == 0:
        return image.copy()
    height, width = image.shape[:2]
    lighting = lighting or Lighting()
    faces_t = torch.as_tensor(np.asarray(faces), dtype=torch.int64)
    verts = [torch.as_tensor(np.asarray(m), dtype=torch.float32).reshape(-1, 3) for m in meshes]
    offsets = np.cumsum([0] + [v.shape[0] for v in verts])
    all_verts = torch.cat(verts)
    all_faces = torch.cat([faces_t + int(offsets[k]) for k in range(len(verts))])
    face_mesh = torch.repeat_interleave(torch.arange(len(verts)), faces_t.shape[0])
    palette = torch.tensor(
        [colors[k] if colors is not None else person_color(k) for k in range(len(verts))], dtype=torch.float32
    )

    raster = rasterize(all_verts, all_faces, (height, width), focal_length, principal_point)
    covered = raster.face_index >= 0
    if not bool(covered.any()):
        return image.copy()
    rows, cols = torch.nonzero(covered, as_tuple=True)
    face = raster.face_index[rows, cols]

    # Perspective-correct barycentrics of the visible pixels, to interpolate normals and positions.
    normals = vertex_normals(all_verts, all_faces)
    corners = all_faces[face]  # (K, 3)
    if principal_point is None:
        principal_point = (width / 2.0, height / 2.0)
    tri_uv = project_points(all_verts, focal_length, principal_point)[corners]  # (K, 3, 2)
    a, b, c = tri_uv[:, 0], tri_uv[:, 1], tri_uv[:, 2]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    w = _barycentric(tri_uv, 1.0 / area, cols[:, None].float() + 0.5, rows[:, None].float() + 0.5)[:, 0]
    w = w.clamp_min(0) / all_verts[corners][..., 2]
    w = w / w.sum(dim=1, keepdim=True)
    n = torch.nn.functional.normalize((w[..., None] * normals[corners]).sum(dim=1), dim=1, eps=1e-12)
    position = (w[..., None] * all_verts[corners]).sum(dim=1)
    view = torch.nn.functional.normalize(-position, dim=1, eps=1e-12)  # surface -> camera
    n = torch.where(((n * view).sum(dim=1, keepdim=True) < 0), -n, n)  # two-sided lighting

    light = torch.nn.functional.normalize(torch.tensor(lighting.direction, dtype=torch.float32), dim=0)
    diffuse = (n @ light).clamp_min(0)
    half = torch.nn.functional.normalize(light[None] + view, dim=1, eps=1e-12)
    specular = (n * half).sum(dim=1).clamp_min(0) ** lighting.shininess
    base = palette[face_mesh[face]]  # (K, 3)
    shaded = (
        base * (lighting.ambient + lighting.diffuse * diffuse)[:, None]
        + lighting.specular * specular[:, None]
    )
    shaded = shaded.clamp(0, 1) * 255.0

    out = torch.from_numpy(image.copy())
    under = out[rows, cols].to(torch.float32)
    out[rows, cols] = (opacity * shaded + (1.0 - opacity) * under).round().clamp(0, 255).to(torch.uint8)
    return out.numpy()


def draw_keypoints(
    image: np.ndarray,
    keypoints: Sequence[np.ndarray],
    colors: Sequence[tuple[float, float, float]] | None = None,
    radius: float | None = None,
) -> np.ndarray:
    """Draw each person's 33 WholeBody keypoints (px, (33, 2) or (33, 3) with a confidence) and skeleton.

    Points with a confidence <= 0 or outside the image are skipped. Returns a new uint8 RGB array.
    """
    canvas = Image.fromarray(np.ascontiguousarray(image[..., :3], dtype=np.uint8))
    draw = ImageDraw.Draw(canvas)
    size = max(canvas.size)
    r = radius if radius is not None else max(2.0, size / 300.0)
    line = max(1, round(r * 0.6))
    for k, points in enumerate(keypoints):
        points = np.asarray(points, dtype=np.float64)
        conf = points[:, 2] if points.shape[1] > 2 else np.ones(len(points))
        ok = (conf > 0) & np.isfinite(points[:, :2]).all(axis=1)
        rgb = colors[k] if colors is not None else person_color(k)
        bright = tuple(int(255 * min(1.0, 0.35 + 0.8 * c)) for c in rgb)
        dark = tuple(int(255 * 0.35 * c) for c in rgb)
        for i, j in WHOLEBODY33_SKELETON:
            if i < len(points) and j < len(points) and ok[i] and ok[j]:
                draw.line([tuple(points[i, :2]), tuple(points[j, :2])], fill=bright, width=line)
        for i in np.nonzero(ok)[0]:
            x, y = points[i, :2]
            draw.ellipse([x - r, y - r, x + r, y + r], fill=bright, outline=dark)
    return np.asarray(canvas)


def draw_boxes(
    image: np.ndarray,
    boxes: Sequence[Sequence[float]],
    labels: Sequence[str] | None = None,
    colors: Sequence[tuple[float, float, float]] | None = None,
) -> np.ndarray:
    """Draw xyxy px boxes with optional text labels, one colour per person. Returns a new uint8 RGB array."""
    canvas = Image.fromarray(np.ascontiguousarray(image[..., :3], dtype=np.uint8))
    draw = ImageDraw.Draw(canvas)
    width = max(1, round(max(canvas.size) / 400))
    for k, box in enumerate(boxes):
        rgb = colors[k] if colors is not None else person_color(k)
        color = tuple(int(255 * c) for c in rgb)
        x1, y1, x2, y2 = (float(v) for v in box)
        draw.rectangle([x1, y1, x2, y2], outline=color, width=width)
        if labels is not None:
            text = labels[k]
            left, top, right, bottom = draw.textbbox((x1, y1), text)
            ty = y1 - (bottom - top) - 4 if y1 - (bottom - top) - 4 >= 0 else y1
            draw.rectangle([x1, ty, x1 + (right - left) + 4, ty + (bottom - top) + 4], fill=color)
            draw.text((x1 + 2, ty + 1), text, fill=(0, 0, 0))
    return np.asarray(canvas)
