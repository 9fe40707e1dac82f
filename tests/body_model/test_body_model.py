import numpy as np
import pytest
import torch

from hardmo_hf.constants import LABEL44_PELVIS, SMPLX45_TO_WHOLEBODY33
from hardmo_hf.models.body_model_hardmo import SMPL_PATH_ENV, SMPLBodyModel
from hardmo_hf.models.geometry_hardmo import axis_angle_to_rotmat
from hardmo_hf.safe_pickle import load_pickle
from hardmo_hf.testing.smpl import REST_JOINTS


@pytest.fixture(scope="module")
def body_model(synthetic_smpl_dir):
    j19 = load_pickle(synthetic_smpl_dir / "SMPL_to_J19.pkl")
    return SMPLBodyModel(synthetic_smpl_dir, j19_regressor=j19)


def identity_pose(batch):
    return torch.eye(3).expand(batch, 1, 3, 3), torch.eye(3).expand(batch, 23, 3, 3)


def test_rest_pose_joints_match_the_synthetic_skeleton(body_model):
    go, bp = identity_pose(2)
    out = body_model(go, bp, torch.zeros(2, 10))
    assert out.vertices.shape == (2, 6890, 3)
    assert out.joints45.shape == (2, 45, 3)
    assert out.keypoints44.shape == (2, 44, 3)
    assert out.wholebody33.shape == (2, 33, 3)
    np.testing.assert_allclose(out.joints45[0, :24].numpy(), REST_JOINTS, atol=1e-5)
    np.testing.assert_allclose(out.wholebody33.numpy(), out.joints45[:, list(SMPLX45_TO_WHOLEBODY33)].numpy())
    # The J19 pelvis sits between the SMPL pelvis and spine1 in the synthetic regressor.
    expected_pelvis = 0.5 * (REST_JOINTS[0] + REST_JOINTS[3])
    np.testing.assert_allclose(out.keypoints44[0, LABEL44_PELVIS].numpy(), expected_pelvis, atol=1e-5)


def test_axis_angle_and_matrix_inputs_agree(body_model):
    torch.manual_seed(0)
    aa_go, aa_bp = 0.3 * torch.randn(3, 3), 0.3 * torch.randn(3, 69)
    betas = torch.randn(3, 10)
    a = body_model(aa_go, aa_bp, betas, pose2rot=True)
    b = body_model(axis_angle_to_rotmat(aa_go)[:, None], axis_angle_to_rotmat(aa_bp.reshape(3, 23, 3)), betas)
    torch.testing.assert_close(a.vertices, b.vertices)


def test_bending_the_left_knee_moves_only_the_left_toes(body_model):
    go, bp = identity_pose(1)
    rest = body_model(go, bp, torch.zeros(1, 10))
    pose = torch.zeros(1, 69)
    pose[0, 3 * 3] = 1.2  # body_pose row 3 = SMPL joint 4, the left knee
    bent = body_model(torch.zeros(1, 3), pose, torch.zeros(1, 10), pose2rot=True)
    moved = (bent.joints45 - rest.joints45).norm(dim=-1)[0]
    left_toes, right_toes = [29, 30, 31], [32, 33, 34]
    assert moved[left_toes].min() > 0.1
    assert moved[right_toes].max() < 2e-3  # only the (small) pose blend shapes reach the other leg


def test_no_smpl_data_in_state_dict(body_model):
    assert body_model.state_dict() == {}
    wrapper = torch.nn.Module()
    wrapper.body = body_model
    assert wrapper.state_dict() == {}


def test_missing_file_says_what_to_download(tmp_path, monkeypatch):
    monkeypatch.delenv(SMPL_PATH_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="smpl.is.tue.mpg.de"):
        SMPLBodyModel()
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        SMPLBodyModel(tmp_path)
    monkeypatch.setenv(SMPL_PATH_ENV, str(tmp_path / "nope.pkl"))
    with pytest.raises(FileNotFoundError, match="nope.pkl"):
        SMPLBodyModel()


def test_axis_angle_to_rotmat_is_a_rotation():
    aa = torch.tensor([[0.0, 0.0, 0.0], [1e-10, 0, 0], [0.0, 0.0, np.pi / 2]], dtype=torch.float64)
    rot = axis_angle_to_rotmat(aa)
    torch.testing.assert_close(rot[0], torch.eye(3, dtype=torch.float64))
    torch.testing.assert_close(rot[2], torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]], dtype=torch.float64))
    torch.testing.assert_close(rot @ rot.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(3, 3, 3))
