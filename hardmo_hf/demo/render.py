"""CPU mesh renderer for the demo: z-buffered triangle rasterization in numpy, no OpenGL.

Coordinate frame (the full-image camera of the models' ``post_process``, OpenCV convention):

* vertices are in metres in the camera frame: ``x`` right, ``y`` down, ``z`` forward (away from the camera);
* a point projects to pixels as ``u = f * x / z + cx``, ``v = f * y / z + cy`` with one focal length ``f`` in
  px and the principal point ``(cx, cy)`` (by default the image centre ``(W / 2, H / 2)``);
* pixel ``(row i, column j)`` is sampled at its centre ``(u, v) = (j + 0.5, i + 0.5)``, so the image spans
  ``[0, W] x [0, H]`` in continuous pixel coordinates, the same convention as the 2D keypoints.

Rasterization is vectorized per triangle bounding box: every pixel centre of every triangle's bounding box
becomes one candidate (flattened, no padding), edge functions test them all at once, and a single
``np.minimum.at`` (a scatter-min) over a packed ``(depth, face)`` int64 key resolves visibility between
all meshes (people occlude each other correctly). It is numpy on purpose: single-threaded elementwise work
does not stall when the CPU is shared (torch's thread pool does), and the renderer needs no torch. Shading is Blinn-Phong with smoothly interpolated vertex
normals, one directional light plus ambient, two-sided (normals are turned towards the camera, so the
face winding does not matter). The shaded meshes are blended over the image with a constant opacity.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
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
_NO_HIT = np.iinfo(np.int64).max


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

    face_index: np.ndarray
    depth: np.ndarray


def project_points(
    points: np.ndarray, focal_length: float, principal_point: tuple[float, float]
) -> np.ndarray:
    """Camera-frame points (..., 3) in metres -> pixel coordinates (..., 2) (continuous, see module doc)."""
    points = np.asarray(points)
    return focal_length * points[..., :2] / points[..., 2:3] + np.asarray(principal_point, dtype=points.dtype)


def rasterize(
    vertices: np.ndarray,
    faces: np.ndarray,
    image_size: tuple[int, int],
    focal_length: float,
    principal_point: tuple[float, float] | None = None,
) -> Rasterization:
    """Z-buffer the triangles ``faces`` (F, 3) of camera-frame ``vertices`` (V, 3) m over an image of
    ``image_size = (H, W)`` px. Triangles that come closer than 1 cm to the camera plane are skipped."""
    height, width = image_size
    if principal_point is None:
        principal_point = (width / 2.0, height / 2.0)
    vertices = np.asarray(vertices, dtype=np.float32).reshape(-1, 3)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    packed = np.full(height * width, _NO_HIT, dtype=np.int64)
    if faces.size == 0:
        return _finish(packed, height, width)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        uv = project_points(vertices, focal_length, principal_point).astype(np.float32)  # (V, 2) px
    tri_uv = uv[faces]  # (F, 3, 2)
    tri_z = vertices[:, 2][faces]  # (F, 3)
    keep = (tri_z > _NEAR_Z).all(axis=1) & np.isfinite(tri_uv).all(axis=(1, 2))

    # Pixel-centre bounding boxes: column j is sampled at u = j + 0.5.
    with np.errstate(invalid="ignore"):
        lo = np.ceil(tri_uv.min(axis=1) - 0.5)
        hi = np.floor(tri_uv.max(axis=1) - 0.5)
    np.clip(lo, 0, [width - 1, height - 1], out=lo)
    np.clip(hi, -1, [width - 1, height - 1], out=hi)
    keep &= (hi >= lo).all(axis=1)
    a, b, c = tri_uv[:, 0], tri_uv[:, 1], tri_uv[:, 2]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    keep &= np.abs(area) > 1e-9
    ids = np.nonzero(keep)[0]
    if ids.size == 0:
        return _finish(packed, height, width)

    lo, hi = lo[ids].astype(np.int64), hi[ids].astype(np.int64)
    # Work relative to each box's corner (small numbers keep float32 exact enough).
    local = tri_uv[ids] - lo[:, None, :].astype(np.float32)  # (T, 3, 2)
    # 1/z is linear in screen space: 1/z(x, y) = A x + B y + C over each triangle (local coordinates).
    inv_area = (1.0 / area[ids]).astype(np.float32)
    inv_z = (1.0 / tri_z[ids]).astype(np.float32)  # (T, 3)
    plane = sum(_edge_coefficients(local, k, inv_area) * inv_z[:, k : k + 1] for k in range(3))  # (T, 3)

    # Scanlines: one entry per (triangle, pixel row) of its box, with the exact covered column span.
    rows_per_tri = hi[:, 1] - lo[:, 1] + 1
    line_tri = np.repeat(np.arange(ids.size), rows_per_tri)
    line_row = np.arange(line_tri.size) - np.repeat(np.cumsum(rows_per_tri) - rows_per_tri, rows_per_tri)
    y = line_row.astype(np.float32) + 0.5  # pixel-centre height, local to the box
    x_min = np.full(line_tri.size, np.inf, dtype=np.float32)
    x_max = np.full(line_tri.size, -np.inf, dtype=np.float32)
    for k in range(3):  # intersect the row with each edge that spans it
        p, q = local[line_tri, k], local[line_tri, (k + 1) % 3]
        dy = q[:, 1] - p[:, 1]
        spans = (np.minimum(p[:, 1], q[:, 1]) <= y) & (y <= np.maximum(p[:, 1], q[:, 1])) & (dy != 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = p[:, 0] + (y - p[:, 1]) * (q[:, 0] - p[:, 0]) / dy
        np.minimum(x_min, np.where(spans, x, np.inf), out=x_min)
        np.maximum(x_max, np.where(spans, x, -np.inf), out=x_max)
    line_lo = lo[line_tri, 0]
    hit = x_min <= x_max  # rounding can leave a box-edge row without a spanning edge
    x_min, x_max = np.where(hit, x_min, 1.0), np.where(hit, x_max, 0.0)
    first = np.maximum(np.ceil(x_min - 0.5), -line_lo).astype(np.int64)  # columns relative to the box corner
    last = np.minimum(np.floor(x_max - 0.5), width - 1 - line_lo).astype(np.int64)
    counts = np.clip(last - first + 1, 0, None)
    keep_lines = counts > 0
    line_tri, line_row, first, counts = (
        line_tri[keep_lines],
        line_row[keep_lines],
        first[keep_lines],
        counts[keep_lines],
    )
    if counts.size == 0:
        return _finish(packed, height, width)

    # Fragments, in chunks of at most _MAX_FRAGMENTS_PER_CHUNK, z-buffered with one scatter-min each.
    starts = np.cumsum(counts) - counts
    bounds = np.searchsorted(
        starts // _MAX_FRAGMENTS_PER_CHUNK, np.arange(int(starts[-1] // _MAX_FRAGMENTS_PER_CHUNK) + 2)
    )
    for begin, stop in itertools.pairwise(bounds.tolist()):
        if stop <= begin:
            continue
        n = counts[begin:stop]
        line = np.repeat(np.arange(begin, stop), n)
        col = np.arange(int(n.sum())) - np.repeat(starts[begin:stop] - starts[begin], n) + first[line]
        tri, row = line_tri[line], line_row[line]
        coef = plane[tri]
        depth = (
            1.0
            / (
                coef[:, 0] * (col.astype(np.float32) + 0.5)
                + coef[:, 1] * (row.astype(np.float32) + 0.5)
                + coef[:, 2]
            )
        ).astype(np.float32)
        key = (depth.view(np.int32).astype(np.int64) << 32) | ids[tri]  # float32 bits are monotonic for z > 0
        pix = (lo[tri, 1] + row) * width + lo[tri, 0] + col
        np.minimum.at(packed, pix, key)
    return _finish(packed, height, width)


def _edge_coefficients(tri_uv: np.ndarray, k: int, inv_area: np.ndarray) -> np.ndarray:
    """(T, 3) coefficients (A, B, C) with barycentric weight of vertex ``k`` = A * x + B * y + C."""
    b, c = tri_uv[:, (k + 1) % 3], tri_uv[:, (k + 2) % 3]
    a_coef = (b[:, 1] - c[:, 1]) * inv_area
    b_coef = (c[:, 0] - b[:, 0]) * inv_area
    c_coef = (b[:, 0] * c[:, 1] - b[:, 1] * c[:, 0]) * inv_area
    return np.stack([a_coef, b_coef, c_coef], axis=1)


def _finish(packed: np.ndarray, height: int, width: int) -> Rasterization:
    hit = packed != _NO_HIT
    face_index = np.where(hit, packed & 0xFFFFFFFF, -1)
    depth = np.full(height * width, np.inf, dtype=np.float32)
    depth[hit] = (packed[hit] >> 32).astype(np.int32).view(np.float32)
    return Rasterization(face_index.reshape(height, width), depth.reshape(height, width))


def _normalize(vectors: np.ndarray) -> np.ndarray:
    length = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(length, 1e-12)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (V, 3) of a triangle mesh (orientation follows the winding)."""
    tri = vertices[faces]  # (F, 3, 3)
    face_normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros_like(vertices)
    for corner in range(3):
        np.add.at(normals, faces[:, corner], face_normal)
    return _normalize(normals)


def render_meshes(
    image: np.ndarray,
    meshes: Sequence[np.ndarray],
    faces: np.ndarray,
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
    out = np.array(image[..., :3], dtype=np.uint8, copy=True, order="C")
    if len(meshes) == 0:
        return out
    height, width = out.shape[:2]
    if principal_point is None:
        principal_point = (width / 2.0, height / 2.0)
    lighting = lighting or Lighting()
    faces = np.asarray(faces, dtype=np.int64)
    verts = [np.asarray(m, dtype=np.float32).reshape(-1, 3) for m in meshes]
    offsets = np.cumsum([0] + [len(v) for v in verts])
    all_verts = np.concatenate(verts)
    all_faces = np.concatenate([faces + offsets[k] for k in range(len(verts))])
    face_mesh = np.repeat(np.arange(len(verts)), len(faces))
    palette = np.array(
        [colors[k] if colors is not None else person_color(k) for k in range(len(verts))], dtype=np.float32
    )

    raster = rasterize(all_verts, all_faces, (height, width), focal_length, principal_point)
    flat = np.flatnonzero(raster.face_index >= 0)  # covered pixels, row-major
    if flat.size == 0:
        return out
    face = raster.face_index.reshape(-1)[flat]
    rows, cols = np.divmod(flat, width)

    # Perspective-correct barycentrics of the visible pixels, to interpolate normals and positions.
    corners = all_faces[face]  # (K, 3)
    corner_xyz = all_verts[corners]  # (K, 3, 3)
    tri_uv = project_points(all_verts, focal_length, principal_point).astype(np.float32)[corners]  # (K, 3, 2)
    x, y = cols.astype(np.float32) + 0.5, rows.astype(np.float32) + 0.5
    a, b, c = tri_uv[:, 0], tri_uv[:, 1], tri_uv[:, 2]
    inv_area = 1.0 / ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))
    w0 = ((b[:, 0] - x) * (c[:, 1] - y) - (b[:, 1] - y) * (c[:, 0] - x)) * inv_area
    w1 = ((c[:, 0] - x) * (a[:, 1] - y) - (c[:, 1] - y) * (a[:, 0] - x)) * inv_area
    w = np.clip(np.stack([w0, w1, 1.0 - w0 - w1], axis=1), 0, None) / corner_xyz[..., 2]
    w /= w.sum(axis=1, keepdims=True)
    normals = vertex_normals(all_verts, all_faces)
    n = _normalize(np.einsum("kc,kcd->kd", w, normals[corners]))
    view = _normalize(-np.einsum("kc,kcd->kd", w, corner_xyz))  # surface -> camera
    n *= np.where((n * view).sum(axis=1, keepdims=True) < 0, -1.0, 1.0).astype(np.float32)  # two-sided

    light = _normalize(np.asarray(lighting.direction, dtype=np.float32))
    diffuse = np.clip(n @ light, 0, None)
    half = _normalize(light[None] + view)
    specular = np.clip((n * half).sum(axis=1), 0, None) ** np.float32(lighting.shininess)
    base = palette[face_mesh[face]]  # (K, 3)
    shade = np.float32(lighting.ambient) + np.float32(lighting.diffuse) * diffuse
    shaded = np.clip(base * shade[:, None] + np.float32(lighting.specular) * specular[:, None], 0, 1)
    pixels = out.reshape(-1, 3)
    blended = np.float32(255.0 * opacity) * shaded + np.float32(1.0 - opacity) * pixels[flat]
    pixels[flat] = np.clip(np.round(blended), 0, 255).astype(np.uint8)
    return out


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
