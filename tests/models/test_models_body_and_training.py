"""Body-model outputs, SMPL never in a checkpoint, the training loss and fine-tuning with the HF Trainer."""

from __future__ import annotations

import pytest
import torch
from safetensors import safe_open

from hardmo_hf.constants import SMPLX45_TO_BODY25, SMPLX45_TO_WHOLEBODY33
from hardmo_hf.models.conversion_utils import find_smpl_tensors
from hardmo_hf.models.geometry_hardmo import rotmat_to_axis_angle
from hardmo_hf.testing.models import make_tiny_model

# A small HMR (64 px crops, no dropout) keeps the loss and training tests fast; the architecture is unchanged.
SMALL_HMR = {"image_size": 64, "head_dropout": 0.0}


@pytest.fixture(scope="module")
def images():
    return torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("kind", ["hmr2", "hmr"])
def test_attached_body_model_outputs(kind, synthetic_smpl_dir):
    model = make_tiny_model(kind)
    size = model.config.image_size
    model.attach_body_model(synthetic_smpl_dir)  # finds SMPL_to_J19.pkl beside SMPL_NEUTRAL.pkl
    with torch.no_grad():
        out = model(torch.randn(2, 3, size, size))
    assert out.vertices.shape == (2, 6890, 3) and out.joints.shape == (2, 45, 3)
    assert out.keypoints_3d.shape == (2, 44, 3) and out.keypoints_2d.shape == (2, 44, 2)
    assert out.joints_2d.shape == (2, 45, 2) and out.wholebody_2d.shape == (2, 33, 2)
    assert all(t.dtype == torch.float32 for t in (out.vertices, out.joints_2d, out.wholebody_2d))
    # Crop-normalised perspective projection with focal f / S and the principal point at the crop centre.
    camera = out.joints + out.pred_cam_t[:, None]
    expected = camera[..., :2] / camera[..., 2:] * (out.focal_length[:, None] / size)
    assert torch.allclose(out.joints_2d, expected, atol=1e-6)
    assert torch.equal(out.wholebody_2d, out.joints_2d[:, list(SMPLX45_TO_WHOLEBODY33)])
    assert torch.equal(out.keypoints_3d[:, :25], out.joints[:, list(SMPLX45_TO_BODY25)])


def test_body_model_without_j19_regressor(synthetic_smpl_dir, tmp_path, images):
    import shutil

    smpl_only = tmp_path / "smpl"
    smpl_only.mkdir()
    shutil.copy(synthetic_smpl_dir / "SMPL_NEUTRAL.pkl", smpl_only)
    model = make_tiny_model("hmr", **SMALL_HMR)
    model.attach_body_model(smpl_only / "SMPL_NEUTRAL.pkl")
    out = model(images)
    assert out.keypoints_3d is None and out.keypoints_2d is None and out.wholebody_2d.shape == (4, 33, 2)
    # HardMo 2D labels have zero-confidence J19 rows: the BODY_25 rows are enough for the 2D term.
    kp2d = torch.zeros(4, 44, 3)
    kp2d[:, :25] = torch.cat([out.joints_2d[:, list(SMPLX45_TO_BODY25)].detach() + 0.01, torch.ones(4, 25, 1)], dim=-1)
    loss = model(images, labels={"keypoints_2d": kp2d}).loss
    assert torch.isclose(loss, torch.tensor(0.01 * 0.01 * 4 * 25 * 2), rtol=1e-3)
    kp2d[:, 30, 2] = 1.0
    with pytest.raises(ValueError, match="no J19 regressor"):
        model(images, labels={"keypoints_2d": kp2d})
    with pytest.raises(ValueError, match="J19"):
        model(images, labels={"keypoints_3d": torch.ones(4, 44, 4)})


def test_no_smpl_tensor_is_ever_saved(synthetic_smpl_dir, tmp_path):
    model = make_tiny_model("hmr")
    keys_before = set(model.state_dict())
    model.attach_body_model(synthetic_smpl_dir)
    assert set(model.state_dict()) == keys_before
    assert not any("smpl" in name for name, _ in model.named_modules())
    model.save_pretrained(tmp_path)
    assert find_smpl_tensors(tmp_path / "model.safetensors") == []
    with safe_open(str(tmp_path / "model.safetensors"), "pt") as handle:
        assert set(handle.keys()) == keys_before
    # The detector itself finds SMPL data by key or by vertex count.
    from safetensors.torch import save_file

    save_file({"head.fc1.weight": torch.zeros(2, 2), "extra.templ": torch.zeros(6890, 3)}, tmp_path / "bad.safetensors")
    assert find_smpl_tensors(tmp_path / "bad.safetensors") == ["extra.templ"]


def teacher_labels(teacher, images, body_model) -> dict:
    """Labels in the documented format, from another (random) model's predictions."""
    teacher.attach_body_model(body_model)
    with torch.no_grad():
        out = teacher(images)
    batch = images.shape[0]
    ones = torch.ones(batch, 1, 1)
    return {
        "keypoints_2d": torch.cat([out.keypoints_2d, ones.expand(batch, 44, 1)], dim=-1),
        "keypoints_3d": torch.cat([out.keypoints_3d + 0.5, ones.expand(batch, 44, 1)], dim=-1),  # any frame
        "hand_keypoints_2d": torch.cat([out.joints_2d[:, -10:], ones.expand(batch, 10, 1)], dim=-1),
        "global_orient": rotmat_to_axis_angle(out.global_orient).reshape(batch, 3),  # axis-angle
        "body_pose": out.body_pose,  # rotation matrices
        "betas": out.betas,
        "has_global_orient": torch.ones(batch),
        "has_body_pose": torch.tensor([1.0, 1.0, 0.0, 1.0]),
        "has_betas": torch.ones(batch),
    }


def test_loss_terms_and_errors(synthetic_smpl_dir, images):
    model = make_tiny_model("hmr", **SMALL_HMR)
    labels = teacher_labels(make_tiny_model("hmr", seed=1, **SMALL_HMR), images, synthetic_smpl_dir)
    with pytest.raises(ValueError, match="attach_body_model"):
        model(images, labels=labels)
    params_only = {k: v for k, v in labels.items() if not k.startswith(("keypoints", "hand"))}
    assert model(images, labels=params_only).loss > 0  # SMPL-parameter terms alone need no body model
    model.attach_body_model(synthetic_smpl_dir)
    out = model(images, labels=labels)
    loss, terms = model.compute_loss(out, labels)
    assert torch.allclose(out.loss, loss)
    assert set(terms) == {
        "loss_keypoints_2d", "loss_keypoints_3d", "loss_hand_keypoints_2d", "loss_global_orient", "loss_body_pose",
        "loss_betas",
    }
    config = model.config
    weighted = sum(getattr(config, name[5:] + "_loss_weight") * value for name, value in terms.items())
    assert torch.allclose(loss, weighted)
    # A perfect prediction has zero loss; the pelvis alignment ignores the 3D labels' frame.
    with torch.no_grad():
        out = model(images)
    own = teacher_labels(model, images, model.body_model)
    _, own_terms = model.compute_loss(out, own)
    assert all(value < 1e-5 for value in own_terms.values()), own_terms
    with pytest.raises(ValueError, match="unknown labels"):
        model(images, labels={"pose": labels["body_pose"]})
    with pytest.raises(ValueError, match="axis-angle"):
        model(images, labels={"body_pose": torch.zeros(4, 22, 3)})


def test_trainer_fine_tuning_lowers_the_loss(synthetic_smpl_dir, images, tmp_path):
    from transformers import Trainer, TrainingArguments

    model = make_tiny_model("hmr", **SMALL_HMR).train()
    model.attach_body_model(synthetic_smpl_dir)
    labels = teacher_labels(make_tiny_model("hmr", seed=1, **SMALL_HMR), images, synthetic_smpl_dir)
    samples = [{"pixel_values": images[i], "labels": {k: v[i] for k, v in labels.items()}} for i in range(4)]

    def collate(batch):
        return {
            "pixel_values": torch.stack([b["pixel_values"] for b in batch]),
            "labels": {k: torch.stack([b["labels"][k] for b in batch]) for k in batch[0]["labels"]},
        }

    args = TrainingArguments(
        output_dir=str(tmp_path), max_steps=10, per_device_train_batch_size=4, learning_rate=1e-3,
        lr_scheduler_type="constant", weight_decay=0.0,
        logging_steps=1, report_to=[], save_strategy="no", use_cpu=True, dataloader_num_workers=0,
        remove_unused_columns=False, disable_tqdm=True, seed=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=samples, data_collator=collate)
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 10
    assert losses[-1] < 0.5 * losses[0], losses
