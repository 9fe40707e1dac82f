"""The CPU renderer against brute-force and analytic references."""

import numpy as np
import pytest

from hardmo_hf.demo.render import (
    Lighting,
    draw_boxes,
    draw_keypoints,
    person_color,
    project_points,
    rasterize,
    render_meshes,
)


def _inside_brute_force(tri_uv: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W) bool: pixel centres inside the triangle, one point at a time in float64."""
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    a, b, c = tri_uv

    def edge(p, q):
        return (q[0] - p[0]) * (ys - p[1]) - (q[1] - p[1]) * (xs - p[0])

    e0, e1, e2 = edge(b, c), edge(c, a), edge(a, b)
    return ((e0 >= 0) & (e1 >= 0) & (e2 >= 0)) | ((e0 <= 0) & (e1 <= 0) & (e2 <= 0))


@pytest.mark.parametrize("seed", range(6))
def test_triangle_coverage_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    height, width, focal = 64, 80, 100.0
    # Random triangle at depth 2 m, some vertices outside the image.
    uv = rng.uniform([-20, -20], [width + 20, height + 20], size=(3, 2))
    z = 2.0
    verts = np.concatenate([(uv - [width / 2, height / 2]) * z / focal, np.full((3, 1), z)], axis=1)
    raster = rasterize(verts, np.array([[0, 1, 2]]), (height, width), focal)
    expected = _inside_brute_force(uv, height, width)
    got = raster.face_index == 0
    assert (got != expected).sum() <= 1  # a centre exactly on an edge may go either way
    assert np.allclose(raster.depth[got], z, atol=1e-5)
    assert np.isinf(raster.depth[~got]).all()


def test_nearest_surface_wins_whatever_the_order():
    quad = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], dtype=np.float32)
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    near, far = quad + [0.3, 0, 3.0], quad + [-0.3, 0, 4.0]
    for verts in (np.concatenate([near, far]), np.concatenate([far, near])):
        raster = rasterize(verts, faces, (100, 100), 50.0)
        centre_face = int(raster.face_index[50, 50])
        near_faces = (0, 1) if verts[0, 2] == near[0, 2] else (2, 3)
        assert centre_face in near_faces
        assert raster.depth[50, 50] == pytest.approx(3.0, abs=1e-5)


def test_depth_is_perspective_correct_on_a_tilted_plane():
    # Plane z = 3 + 0.5 x, seen through a 200 x 200 image with f = 150.
    xs = np.array([-2.0, 2.0, 2.0, -2.0])
    ys = np.array([-2.0, -2.0, 2.0, 2.0])
    verts = np.stack([xs, ys, 3 + 0.5 * xs], axis=1)
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    raster = rasterize(verts, faces, (200, 200), 150.0)
    rows, cols = np.nonzero(raster.face_index >= 0)
    # Ray through the pixel centre: (x, y, 1) * z with x = (u - cx) / f; intersect z = 3 + 0.5 x z.
    ray_x = (cols + 0.5 - 100) / 150.0
    z = 3.0 / (1.0 - 0.5 * ray_x)
    assert np.abs(raster.depth[rows, cols] - z).max() < 1e-4


def test_triangles_behind_the_camera_are_skipped():
    verts = np.array([[-1.0, -1.0, -2.0], [1.0, -1.0, -2.0], [0.0, 1.0, -2.0]])
    raster = rasterize(verts, np.array([[0, 1, 2]]), (32, 32), 30.0)
    assert (raster.face_index < 0).all()


def _sphere(subdivisions=3):
    trimesh = pytest.importorskip("trimesh")
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions)
    return np.asarray(mesh.vertices, dtype=np.float32), np.asarray(mesh.faces, dtype=np.int64)


def test_sphere_silhouette_lighting_and_opacity():
    verts, faces = _sphere()
    height = width = 200
    focal = 400.0
    centre = np.array([0.0, 0.0, 5.0], dtype=np.float32)
    image = np.zeros((height, width, 3), np.uint8)
    out = render_meshes(image, [verts + centre], faces, focal, opacity=1.0)
    covered = out.sum(axis=2) > 0
    # Silhouette of a unit sphere at distance 5: a circle of radius f / sqrt(d^2 - 1) px.
    radius = focal / np.sqrt(25 - 1)
    assert covered.sum() == pytest.approx(np.pi * radius**2, rel=0.03)
    # Light comes from the upper left (camera frame): that side is brighter.
    brightness = out.astype(float).sum(axis=2)
    upper_left = brightness[70:90, 70:90][covered[70:90, 70:90]].mean()
    lower_right = brightness[110:130, 110:130][covered[110:130, 110:130]].mean()
    assert upper_left > lower_right + 30
    # Opacity blends with the image.
    grey = np.full((height, width, 3), 200, np.uint8)
    half = render_meshes(grey, [verts + centre], faces, focal, opacity=0.5, lighting=Lighting(specular=0.0))
    full = render_meshes(grey, [verts + centre], faces, focal, opacity=1.0, lighting=Lighting(specular=0.0))
    assert np.abs(half[100, 100].astype(float) - (0.5 * full[100, 100] + 100)).max() <= 1.0
    assert (half[~covered] == 200).all()


def test_each_person_gets_its_own_colour_and_winding_does_not_matter():
    verts, faces = _sphere(2)
    left = verts * 0.8 + [-1.2, 0, 6]
    right = verts * 0.8 + [1.2, 0, 6]
    image = np.zeros((120, 200, 3), np.uint8)
    out = render_meshes(image, [left, right], faces[:, ::-1].copy(), 100.0, opacity=1.0)
    a, b = out[60, 80].astype(float), out[60, 120].astype(float)
    assert a.sum() > 0 and b.sum() > 0
    hue = lambda rgb: rgb / rgb.sum()
    assert np.abs(hue(a) - hue(np.array(person_color(0)))).max() < 0.05
    assert np.abs(hue(b) - hue(np.array(person_color(1)))).max() < 0.05


def test_empty_and_offscreen_inputs_return_the_image():
    verts, faces = _sphere(1)
    image = np.full((50, 60, 3), 7, np.uint8)
    assert (render_meshes(image, [], faces, 50.0) == image).all()
    assert (render_meshes(image, [verts + [100, 0, 5]], faces, 50.0) == image).all()


def test_projection_convention():
    points = np.array([[0.0, 0.0, 2.0], [1.0, -0.5, 2.0]])
    uv = project_points(points, 100.0, (32.0, 24.0))
    assert np.allclose(uv, [[32.0, 24.0], [82.0, -1.0]])


def test_overlays_draw_where_asked():
    image = np.zeros((100, 100, 3), np.uint8)
    keypoints = np.ones((33, 3))
    keypoints[:, :2] = 50
    keypoints[5, :2] = [20, 20]
    keypoints[6] = [80, 80, 0]  # confidence 0: skipped
    out = draw_keypoints(image, [keypoints])
    assert out[20, 20].sum() > 0 and out[50, 50].sum() > 0
    assert out[80, 80].sum() == 0
    boxed = draw_boxes(image, [[10, 10, 60, 70]], labels=["0: 0.93"])
    assert boxed[40, 10].sum() > 0 and boxed[40, 35].sum() == 0


def test_triangle_soup_depth_matches_brute_force():
    """Many overlapping, partly off-screen triangles at varied depths: nearest depth per pixel."""
    rng = np.random.default_rng(7)
    height, width, focal = 48, 64, 60.0
    centres = rng.uniform([-1.5, -1.0, 2.0], [1.5, 1.0, 6.0], size=(40, 1, 3))
    verts = (centres + rng.normal(scale=0.4, size=(40, 3, 3))).reshape(-1, 3)
    verts[:, 2] = np.abs(verts[:, 2]) + 0.5
    faces = np.arange(120).reshape(40, 3)
    raster = rasterize(verts, faces, (height, width), focal)
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    best = np.full((height, width), np.inf)
    for tri in verts[faces]:
        uv = focal * tri[:, :2] / tri[:, 2:] + [width / 2, height / 2]
        inside = _inside_brute_force(uv, height, width)
        # Depth at the pixel: intersect the viewing ray with the triangle's plane.
        normal = np.cross(tri[1] - tri[0], tri[2] - tri[0])
        rays = np.stack([(xs - width / 2) / focal, (ys - height / 2) / focal, np.ones_like(xs)], axis=-1)
        z = (normal @ tri[0]) / (rays @ normal)
        best = np.where(inside & (z < best), z, best)
    covered = np.isfinite(best)
    assert (covered != (raster.face_index >= 0)).sum() <= 3  # pixel centres on shared edges may differ
    both = covered & (raster.face_index >= 0)
    assert np.abs(raster.depth[both] - best[both]).max() < 1e-3
