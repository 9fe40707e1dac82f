"""Readers of the raw stage outputs: ultralytics / MOT tracks, MMPose JSON, HMR 2.0 predictions."""

from __future__ import annotations

import base64
import json
import pickle

import numpy as np
import pytest
import torch

from hardmo_hf.pipeline.hmr2_predictions import read_hmr2_predictions
from hardmo_hf.pipeline.mmpose_json import read_mmpose_json
from hardmo_hf.pipeline.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle
from hardmo_hf.pipeline.tracks import read_tracks
from hardmo_hf.safe_pickle import UnsafePickleError


# ---------------------------------------------------------------------------------------------- tracks
def test_ultralytics_json_rows_with_and_without_track_ids(tmp_path):
    path = tmp_path / "tracks.json"
    frames = [
        [[10, 20, 110, 220, 7, 0.9, 0], [200, 20, 260, 200, 0.8, 0]],  # tracked, then untracked (6 numbers)
        [],
        [[12, 21, 111, 221, 7, 0.91, 0]],
    ]
    path.write_text(json.dumps(frames))
    dets = read_tracks(path)
    assert [(d.frame, d.track_id, d.class_id) for d in dets] == [(0, 7, 0), (0, None, 0), (2, 7, 0)]
    np.testing.assert_allclose(dets[1].box, [200, 20, 260, 200])
    assert dets[1].confidence == pytest.approx(0.8)


def test_ultralytics_summary_dicts_jsonl(tmp_path):
    path = tmp_path / "tracks.jsonl"
    item = {"name": "person", "class": 0, "confidence": 0.7, "box": {"x1": 1, "y1": 2, "x2": 50, "y2": 90}}
    path.write_text(json.dumps([{**item, "track_id": 4}]) + "\n\n" + json.dumps([item]) + "\n")
    dets = read_tracks(path)
    assert [(d.frame, d.track_id) for d in dets] == [(0, 4), (2, None)]


def test_ultralytics_npz_nan_track_id(tmp_path):
    path = tmp_path / "tracks.npz"
    boxes = np.array([[0, 0, 40, 80, 3, 0.9, 0], [5, 5, 45, 85, np.nan, 0.8, 0]])
    np.savez(path, frame_index=np.array([4, 5]), boxes=boxes)
    dets = read_tracks(path)
    assert [(d.frame, d.track_id) for d in dets] == [(4, 3), (5, None)]


def test_ultralytics_txt_is_normalized_and_one_based(tmp_path):
    folder = tmp_path / "labels"
    folder.mkdir()
    (folder / "video_1.txt").write_text("0 0.5 0.5 0.25 0.5 0.9 12\n")
    (folder / "video_3.txt").write_text("0 0.25 0.5 0.1 0.2 0.6\n")
    dets = read_tracks(folder, image_size=(400, 200))
    assert [(d.frame, d.track_id) for d in dets] == [(0, 12), (2, None)]
    np.testing.assert_allclose(dets[0].box, [150, 50, 250, 150])
    with pytest.raises(ValueError, match="frame size"):
        read_tracks(folder)


def test_mot_text_is_one_based_tlwh(tmp_path):
    path = tmp_path / "tracks.txt"
    path.write_text("1,5,10,20,30,60,0.95,-1,-1,-1\n2,-1,11,21,30,60,0.9,-1,-1,-1\n")
    dets = read_tracks(path)
    assert [(d.frame, d.track_id) for d in dets] == [(0, 5), (1, None)]
    np.testing.assert_allclose(dets[0].box, [10, 20, 40, 80])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("tracks.json", "{not json", "not valid JSON"),
        ("tracks.json", json.dumps([[[1, 2, 3]]]), "6 .* or 7"),
        ("tracks.txt", "0,1,2,3,4,5,0.9\n", "start.* at 1"),
        ("tracks.txt", "1,2,3\n", "frame,id,left"),
    ],
)
def test_bad_track_files_name_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as info:
        read_tracks(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------------------------- MMPose
def _instance(rng, with_box=True):
    kp = rng.uniform(0, 100, size=(133, 2))
    scores = rng.uniform(0, 1.6, size=133)  # raw scores: above 1 is possible
    item = {"keypoints": kp.tolist(), "keypoint_scores": scores.tolist()}
    if with_box:
        item["bbox"] = [[1.0, 2.0, 90.0, 95.0]]  # MMPose's tuple-wrapped box
        item["bbox_score"] = 0.93
    return item, kp, scores


def test_mmpose_inferencer_form_is_zero_based(tmp_path):
    rng = np.random.default_rng(0)
    item, kp, scores = _instance(rng)
    path = tmp_path / "keypoints.json"
    path.write_text(json.dumps([{"frame_id": 0, "instances": []}, {"frame_id": 1, "instances": [item]}]))
    (inst,) = read_mmpose_json(path)
    assert inst.frame == 1
    np.testing.assert_allclose(inst.keypoints[:, :2], kp, rtol=1e-6)
    np.testing.assert_allclose(inst.keypoints[:, 2], scores, rtol=1e-6)  # not clipped
    assert inst.keypoints[:, 2].max() > 1
    np.testing.assert_allclose(inst.box, [1, 2, 90, 95])
    assert inst.box_score == pytest.approx(0.93)


def test_mmpose_demo_form_is_one_based_with_json_tricks_arrays(tmp_path):
    rng = np.random.default_rng(1)
    first, kp, _ = _instance(rng)
    first["keypoints"] = {"__ndarray__": kp.tolist(), "dtype": "float32", "shape": [133, 2], "Corder": True}
    second, kp2, _ = _instance(rng, with_box=False)
    raw = np.asarray(kp2, dtype="<f8")
    second["keypoints"] = {
        "__ndarray__": "b64:" + base64.b64encode(raw.tobytes()).decode(),
        "dtype": "float64",
        "shape": [133, 2],
    }
    data = {
        "meta_info": {
            "dataset_name": "coco_wholebody",
            "sigmas": {"__ndarray__": [0.1] * 133, "dtype": "float32"},
        },
        "instance_info": [{"frame_id": 1, "instances": [first]}, {"frame_id": 2, "instances": [second]}],
    }
    path = tmp_path / "keypoints.json"
    path.write_text(json.dumps(data))
    a, b = read_mmpose_json(path)
    assert (a.frame, b.frame) == (0, 1)
    np.testing.assert_allclose(a.keypoints[:, :2], kp, rtol=1e-6)
    np.testing.assert_allclose(b.keypoints[:, :2], kp2, rtol=1e-6)
    assert b.box is None


def test_mmpose_rejects_body_only_models_and_image_demo_files(tmp_path):
    path = tmp_path / "keypoints.json"
    path.write_text(
        json.dumps(
            [{"frame_id": 0, "instances": [{"keypoints": [[0, 0]] * 17, "keypoint_scores": [1] * 17}]}]
        )
    )
    with pytest.raises(ValueError, match="expected 133 COCO-WholeBody keypoints, got 17"):
        read_mmpose_json(path)
    path.write_text(
        json.dumps({"meta_info": {}, "instance_info": [{"keypoints": [], "keypoint_scores": []}]})
    )
    with pytest.raises(ValueError, match="image-mode"):
        read_mmpose_json(path)


# ------------------------------------------------------------------------------------------- HMR 2.0
def _poses(n, seed=0):
    rng = np.random.default_rng(seed)
    return (0.5 * rng.normal(size=(n, 24, 3))).astype(np.float32), rng.normal(size=(n, 10)).astype(np.float32)


def test_hmr2_npz_rotation_matrices_and_crop_centres(tmp_path):
    pose, betas = _poses(3)
    matrices = axis_angle_to_rotmat(torch.from_numpy(pose).double()).numpy()
    path = tmp_path / "smpl.npz"
    np.savez(
        path,
        frame_index=np.array([0, 0, 5]),
        global_orient=matrices[:, :1],
        body_pose=matrices[:, 1:],
        betas=betas,
        box_center=np.array([[10, 20], [30, 40], [50, 60]]),
        box_size=np.array([100, 90, 80]),
    )
    preds = read_hmr2_predictions(path)
    assert [p.frame for p in preds] == [0, 0, 5]
    for p, aa in zip(preds, pose):
        np.testing.assert_allclose(np.concatenate([p.global_orient, p.body_pose]), aa.reshape(-1), atol=1e-5)
        assert p.box is None
    np.testing.assert_allclose(preds[2].center, [50, 60])


def test_hmr2_pickles_dict_of_arrays_and_list_of_dicts(tmp_path):
    pose, betas = _poses(2, seed=1)
    boxes = np.array([[0, 0, 10, 20], [5, 5, 15, 25]], dtype=np.float32)
    nested = {
        "frame_index": np.array([1, 2]),
        "bbox": boxes,
        "track_id": np.array([4, -1]),
        "pred_smpl_params": {
            "global_orient": pose[:, 0],
            "body_pose": pose[:, 1:].reshape(2, 69),
            "betas": betas,
        },
    }
    path = tmp_path / "smpl.pkl"
    path.write_bytes(pickle.dumps(nested))
    a = read_hmr2_predictions(path)
    assert [p.track_id for p in a] == [4, None]
    np.testing.assert_allclose(a[1].body_pose, pose[1, 1:].reshape(-1))
    # A list of per-prediction dicts, with all 24 joints in body_pose (no global_orient).
    items = [
        {"frame_index": i, "body_pose": pose[i].reshape(72), "betas": betas[i][None], "bbox": boxes[i]}
        for i in range(2)
    ]
    path.write_bytes(pickle.dumps(items))
    b = read_hmr2_predictions(path)
    np.testing.assert_allclose(b[0].global_orient, pose[0, 0])
    np.testing.assert_allclose(b[1].betas, betas[1])


def test_hmr2_refuses_malicious_pickles_and_unmatchable_predictions(tmp_path):
    path = tmp_path / "smpl.pkl"
    path.write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    with pytest.raises(UnsafePickleError):
        read_hmr2_predictions(path)
    pose, betas = _poses(1)
    path = tmp_path / "smpl.npz"
    np.savez(path, frame_index=[0], body_pose=pose.reshape(1, 72), betas=betas)
    with pytest.raises(ValueError, match="'bbox', 'box_center' or 'track_id'") as info:
        read_hmr2_predictions(path)
    assert str(path) in str(info.value)
    np.savez(path, frame_index=[0], body_pose=pose.reshape(1, 72)[:, :60], betas=betas, bbox=[[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="body_pose"):
        read_hmr2_predictions(path)


def test_rotmat_to_axis_angle_round_trip_including_half_turns():
    torch.manual_seed(0)
    axis = torch.nn.functional.normalize(torch.randn(500, 3, dtype=torch.float64), dim=-1)
    angle = torch.rand(500, 1, dtype=torch.float64) * torch.pi
    angle[:5] = torch.pi  # half turns: the hard case of the inverse
    angle[5:10] = 1e-9
    aa = axis * angle
    back = rotmat_to_axis_angle(axis_angle_to_rotmat(aa))
    torch.testing.assert_close(axis_angle_to_rotmat(back), axis_angle_to_rotmat(aa), atol=1e-9, rtol=0)
    torch.testing.assert_close(back[10:], aa[10:], atol=1e-9, rtol=0)


def test_a_clip_with_two_track_files_is_ambiguous(tmp_path):
    from hardmo_hf.pipeline.tracks import find_tracks_file

    (tmp_path / "tracks.json").write_text("[]")
    (tmp_path / "tracks.txt").write_text("")
    with pytest.raises(ValueError, match="several track files"):
        find_tracks_file(tmp_path)
