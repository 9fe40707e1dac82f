"""Fine-tuning on the sample dataset: training examples, and a few Trainer steps that lower the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hardmo_hf.constants import BBOX_SCALE_UNIT
from hardmo_hf.evaluation.evaluate import load_split
from hardmo_hf.training.augment import NO_AUGMENTATION, AugmentationConfig
from hardmo_hf.training.data import CropSpec, HardMoTrainingStream, collate, make_example

HMR2_CROP = CropSpec(256, (192, 256))


@pytest.fixture
def one_thread():
    """Two pytest workers share two cores: intra-op threads would only contend."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def first_rows(dataset, n, config="foot_p2", split="train"):
    rows = []
    for row in load_split(str(dataset), config, split):
        rows.append(row)
        if len(rows) == n:
            break
    return rows


def test_plain_example_matches_the_crop_window(sample_dataset):
    row = first_rows(sample_dataset, 1)[0]
    ex = make_example(row, HMR2_CROP, NO_AUGMENTATION, np.random.default_rng(0))
    assert ex["pixel_values"].shape == (3, 256, 256) and ex["pixel_values"].dtype == torch.float32
    labels = ex["labels"]
    assert set(labels) == {"keypoints_2d", "hand_keypoints_2d", "global_orient", "body_pose", "betas",
                           "has_global_orient", "has_body_pose", "has_betas"}
    side = float(row["scale"]) * 200 * 256 / 192  # the square box grown to 192:256
    kp = np.asarray(row["keypoints_2d"], np.float32)
    expected = (kp[:, :2] - np.asarray(row["center"], np.float32)) / side
    conf = kp[:, 2] >= 0.3
    np.testing.assert_allclose(labels["keypoints_2d"][conf, :2].numpy(), expected[conf], atol=1e-5)
    assert (labels["keypoints_2d"][~conf, 2] == 0).all()  # the authors' 0.3 suppression
    np.testing.assert_allclose(labels["global_orient"].numpy(), np.asarray(row["global_orient"]), atol=1e-6)


def test_augmented_stream_is_reproducible(sample_dataset, monkeypatch):
    import datasets

    # datasets sleeps 5 s after every shuffled pass (a workaround for an Arrow thread-shutdown issue); the
    # pool's futures are all resolved by then, and three passes would cost 15 s of this test's budget.
    monkeypatch.setattr(datasets.config, "SLEEP_TIME_ON_THREADS_SHUTDOWN", 0)
    stream = load_split(str(sample_dataset), "foot_p2", "train")

    def epoch(seed):
        return list(HardMoTrainingStream(stream, HMR2_CROP, AugmentationConfig(), seed=seed, shuffle_buffer=8,
                                         epochs=1))

    a, b, c = epoch(3), epoch(3), epoch(4)
    assert len(a) == len(b) == len(c) > 4
    for x, y in zip(a, b):
        assert torch.equal(x["pixel_values"], y["pixel_values"])
        assert torch.equal(x["labels"]["body_pose"], y["labels"]["body_pose"])
    assert any(not torch.equal(x["pixel_values"], z["pixel_values"]) for x, z in zip(a, c))
    batch = collate(a[:6])
    assert batch["pixel_values"].shape == (6, 3, 256, 256)
    assert batch["labels"]["keypoints_2d"].shape == (6, 44, 3)


def test_a_few_trainer_steps_lower_the_loss(sample_dataset, synthetic_smpl_dir, tmp_path, one_thread):
    from transformers import Trainer, TrainingArguments

    from hardmo_hf.testing.models import make_tiny_model

    model = make_tiny_model("hmr2").train()
    model.attach_body_model(synthetic_smpl_dir)
    data = HardMoTrainingStream(load_split(str(sample_dataset), "foot_p2", "train"), HMR2_CROP, NO_AUGMENTATION,
                                shuffle_buffer=0)
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=24, per_device_train_batch_size=4,
                             learning_rate=1e-3, weight_decay=1e-4, lr_scheduler_type="constant", logging_steps=1,
                             save_strategy="no", report_to="none", use_cpu=True, remove_unused_columns=False,
                             dataloader_num_workers=0, disable_tqdm=True, seed=0)
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=collate)
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 24 and all(np.isfinite(losses))
    assert np.mean(losses[-6:]) < 0.9 * np.mean(losses[:6])


def test_train_cli_writes_a_hub_folder_that_loads_and_evaluates(tiny_hmr2_dir, sample_dataset, synthetic_smpl_dir,
                                                                 tmp_path, one_thread):
    import json
    import shutil

    from transformers import AutoImageProcessor, AutoModel

    from hardmo_hf.cli import main as cli
    from hardmo_hf.models.conversion_utils import find_smpl_tensors

    out = tmp_path / "finetuned"
    rc = cli(["train", "--model", str(tiny_hmr2_dir), "--dataset", str(sample_dataset), "--config", "foot_p2",
              "--output-dir", str(out), "--max-steps", "3", "--batch-size", "2", "--smpl", str(synthetic_smpl_dir),
              "--device", "cpu", "--num-workers", "0", "--shuffle-buffer", "0", "--logging-steps", "1"])
    assert rc == 0
    for name in ("config.json", "model.safetensors", "preprocessor_config.json", "modeling_hardmo.py", "README.md"):
        assert (out / name).is_file(), name
    assert not find_smpl_tensors(out / "model.safetensors")
    card = (out / "README.md").read_text()
    assert "AdamW, constant lr 1e-05, weight decay 0.0001" in card  # HardMo-4DHumans defaults
    assert "flip 0.5" in card and "extreme crop 0.1 (level 1)" in card
    tuned = AutoModel.from_pretrained(out)
    start = AutoModel.from_pretrained(tiny_hmr2_dir)
    assert AutoImageProcessor.from_pretrained(out).image_size == 256
    changed = [n for n, p in tuned.state_dict().items() if not torch.equal(p, start.state_dict()[n])]
    assert changed  # three AdamW steps moved the weights
    # Evaluate it with an SMPL folder that has no J19 regressor: the model path without J19 (BODY_25 rows only,
    # SMPL-pelvis root) must still give a complete table.
    smpl_only = tmp_path / "smpl_only"
    smpl_only.mkdir()
    shutil.copy(synthetic_smpl_dir / "SMPL_NEUTRAL.pkl", smpl_only)
    eval_out = tmp_path / "eval"
    assert cli(["evaluate", "--model", str(out), "--dataset", str(sample_dataset), "--config", "foot_p2",
                "--limit", "4", "--batch-size", "4", "--num-workers", "0", "--smpl", str(smpl_only),
                "--out", str(eval_out), "--no-progress"]) == 0
    results = json.loads((eval_out / "results.json").read_text())
    assert results["num_samples"] == 4 and results["protocol"]["paper_root"] is False
    m = results["metrics"]
    assert all(np.isfinite([m["mpjpe"]["body"], m["pa_mpjpe"]["foot"], m["kpl2"], m["pck"]["body"]["0.05"]]))


@pytest.mark.parametrize("preset", ["hmr2", "hmr"])
def test_training_crops_match_the_processor_crops(preset, sample_dataset):
    """Without augmentation, a training crop is the processor's inference crop (up to OpenCV's 1/32 px
    quantisation of sampling positions and uint8 rounding)."""
    from hardmo_hf.evaluation.rows import row_image
    from hardmo_hf.models.image_processing_hardmo import HardMoImageProcessor

    processor = HardMoImageProcessor.from_preset(preset, antialias=False)
    crop = CropSpec.from_processor(processor)
    row = first_rows(sample_dataset, 1, config="normal", split="test")[0]
    half = float(row["scale"]) * BBOX_SCALE_UNIT / 2
    cx, cy = (float(v) for v in row["center"])
    inputs = processor(images=[row_image(row)], boxes=[np.array([[cx - half, cy - half, cx + half, cy + half]])])
    assert crop.window_side(2 * half) == pytest.approx(float(inputs["box_size"][0]), rel=1e-6)
    ours = make_example(row, crop, NO_AUGMENTATION, np.random.default_rng(0))["pixel_values"].numpy()
    theirs = inputs["pixel_values"][0]
    assert ours.shape == theirs.shape == (3, processor.image_size, processor.image_size)
    levels = np.abs(ours - theirs) * np.asarray(processor.image_std)[:, None, None] * 255  # in 0..255 units
    assert levels.mean() < 0.5 and levels.max() < 8
