"""6D layouts, axis-angle, camera translation and projection."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hardmo_hf.models.geometry_hardmo import (
    axis_angle_to_rotmat,
    perspective_projection,
    rot6d_to_rotmat,
    rot6d_to_rotmat_hmr2,
    rot6d_to_rotmat_spin,
    rotmat_to_axis_angle,
    rotmat_to_rot6d_hmr2,
    rotmat_to_rot6d_spin,
    weak_perspective_to_translation,
)


def random_rotations(n: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return axis_angle_to_rotmat(torch.randn(n, 3, generator=generator) * 1.5)


def test_hmr2_layout_matches_upstream_fixture(fixture_io):
    io = fixture_io["hardmo_hmr"]
    out = rot6d_to_rotmat_hmr2(torch.from_numpy(io["rot6d_test_in"]))
    assert np.abs(out.numpy() - io["rot6d_test_out"]).max() <= 1e-6


@pytest.mark.parametrize(
    ("decode", "encode"), [(rot6d_to_rotmat_hmr2, rotmat_to_rot6d_hmr2), (rot6d_to_rotmat_spin, rotmat_to_rot6d_spin)]
)
def test_layout_round_trip(decode, encode):
    rotations = random_rotations(50)
    assert torch.allclose(decode(encode(rotations)), rotations, atol=1e-6)
    # Decoding is a projection onto SO(3): scaled / skewed inputs still give proper rotations.
    noisy = encode(rotations) * 3.0 + 0.05 * torch.randn(50, 6)
    decoded = decode(noisy)
    assert torch.allclose(decoded @ decoded.transpose(1, 2), torch.eye(3).expand(50, 3, 3), atol=1e-5)
    assert torch.allclose(torch.linalg.det(decoded), torch.ones(50), atol=1e-5)


def test_layouts_differ_and_are_named():
    rotations = random_rotations(8)
    hmr2 = rotmat_to_rot6d_hmr2(rotations)
    assert torch.equal(hmr2[:, :3], rotations[:, :, 0]) and torch.equal(hmr2[:, 3:], rotations[:, :, 1])
    spin = rotmat_to_rot6d_spin(rotations)
    assert torch.equal(spin[:, 0::2], rotations[:, :, 0]) and torch.equal(spin[:, 1::2], rotations[:, :, 1])
    # Reading one layout as the other gives a different rotation.
    assert (rot6d_to_rotmat_spin(hmr2) - rotations).abs().max() > 0.1
    assert torch.equal(rot6d_to_rotmat(hmr2, "hmr2"), rot6d_to_rotmat_hmr2(hmr2))
    with pytest.raises(ValueError, match="unknown 6D layout"):
        rot6d_to_rotmat(hmr2, "pytorch3d")


def test_axis_angle_round_trip_including_zero_and_pi():
    axis_angle = torch.randn(200, 3, dtype=torch.float64)
    axis_angle = axis_angle / axis_angle.norm(dim=-1, keepdim=True) * torch.rand(200, 1, dtype=torch.float64) * 3.1
    assert torch.allclose(rotmat_to_axis_angle(axis_angle_to_rotmat(axis_angle)), axis_angle, atol=1e-9)
    assert torch.equal(axis_angle_to_rotmat(torch.zeros(1, 3)), torch.eye(3)[None])
    half_turn = rotmat_to_axis_angle(axis_angle_to_rotmat(torch.tensor([[0.0, math.pi, 0.0]], dtype=torch.float64)))
    assert torch.allclose(half_turn.abs(), torch.tensor([[0.0, math.pi, 0.0]], dtype=torch.float64), atol=1e-7)
    # Matches the closed form for a rotation about z.
    rz = axis_angle_to_rotmat(torch.tensor([0.0, 0.0, 0.3], dtype=torch.float64))
    expected = torch.tensor([[math.cos(0.3), -math.sin(0.3), 0], [math.sin(0.3), math.cos(0.3), 0], [0, 0, 1]], dtype=torch.float64)
    assert torch.allclose(rz, expected, atol=1e-12)


def test_camera_translation_float_behaviour():
    cam = torch.tensor([[0.9, 0.1, -0.2], [1.3, 0.0, 0.05], [0.37, -0.3, 0.3]])
    focal = torch.full((3, 2), 5000.0)
    hmr2 = weak_perspective_to_translation(cam, focal, 256)
    assert torch.equal(hmr2[:, :2], cam[:, 1:])
    assert torch.equal(hmr2[:, 2], torch.tensor(10000.0) / (256 * cam[:, 0] + 1e-9))
    bedlam = weak_perspective_to_translation(cam, 5000.0, 224, reciprocal_division=True)
    assert torch.equal(bedlam[:, 2], 10000.0 / (224 * cam[:, 0] + 1e-9))  # python number / tensor
    assert torch.allclose(bedlam[:, 2], 2 * 5000.0 / (224 * cam[:, 0].double()).float(), rtol=1e-6)


def test_projection_of_translated_points():
    points = torch.tensor([[[0.0, 0.0, 0.0], [0.1, -0.2, 0.0]]])
    translation = torch.tensor([[0.0, 0.0, 10.0]])
    projected = perspective_projection(points, translation, torch.tensor([[5000.0 / 256, 5000.0 / 256]]))
    assert torch.allclose(projected, torch.tensor([[[0.0, 0.0], [0.1 / 10 * 5000 / 256, -0.2 / 10 * 5000 / 256]]]))
