"""``hardmo-hf evaluate``: stream a HardMo test split, run a model, and report the paper's metrics.

Pipeline: ``datasets.load_dataset(..., streaming=True)`` -> a torch ``DataLoader`` whose workers read it with
:class:`~hardmo_hf.data.streaming.SampleStream` (each frame decoded once for all its people) and cut the crops with the model's own image processor (from the row's centre/scale box) -> the model
(batched, on ``--device``) with the SMPL layer attached -> :class:`~hardmo_hf.evaluation.accumulate.MetricAccumulator`.
Ground-truth 3D joints are the SMPL joints of each row's label, through the same SMPL layer.

Outputs in ``--out``: ``results.json`` (everything), ``results.md`` (the paper's table for the config, the
published rows beside ours), ``results.csv`` (the authors' CSV columns, one row per metric) and
``per_sample.csv`` (per-sample errors, for finding the hard cases).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..constants import CONFIGS, SMPLX45_TO_BODY25
from ..data.streaming import SampleStream
from . import metrics as M
from .accumulate import EvaluationBatch, MetricAccumulator
from .body import ROOT_PAPER, EvaluationBodyModel
from .report import markdown_report, write_authors_csv, write_model_index
from .rows import row_image, row_labels

logger = logging.getLogger(__name__)

LABELS_MODEL = "labels"  # --model labels: the labels themselves as predictions (an oracle; checks the pipeline)
PCK_NORMALIZATIONS = ("bbox", "image")
PER_SAMPLE_COLUMNS = ("sample_id", "category", "has_smpl", "mpjpe_body", "pa_mpjpe_body", "mpjpe_foot",
                      "pa_mpjpe_foot", "angle_bias", "kpl2")


@dataclass
class EvaluationSettings:
    """What ``hardmo-hf evaluate`` runs (the CLI flags)."""

    model: str
    dataset: str = "hardmo"
    config: str = "foot_p2"
    split: str = "test"
    limit: int | None = None
    batch_size: int = 16
    device: str = "cpu"
    smpl: str | None = None
    j19: str | None = None
    pck_norm: str = "bbox"
    out: Path = field(default_factory=lambda: Path("eval_results"))
    num_workers: int = 2
    write_model_index: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        if self.config not in CONFIGS:
            raise ValueError(f"unknown config {self.config!r}; choose one of {', '.join(CONFIGS)}")
        if self.pck_norm not in PCK_NORMALIZATIONS:
            raise ValueError(f"--pck-norm must be one of {PCK_NORMALIZATIONS}, got {self.pck_norm!r}")
        if self.batch_size < 1:
            raise ValueError(f"--batch-size must be positive, got {self.batch_size}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit must be positive, got {self.limit}")
        self.out = Path(self.out)


# ----------------------------------------------------------------------------------------------------
# Predictors: a model, or the labels themselves
# ----------------------------------------------------------------------------------------------------
def load_model_and_processor(model: str):
    """``AutoModel`` + ``AutoImageProcessor`` of a HardMo folder or Hub repo (SMPL models only).

    A folder without ``preprocessor_config.json`` gets the processor of its model type's released preset.
    """
    from transformers import AutoImageProcessor, AutoModel

    import hardmo_hf  # noqa: F401  (registers the HardMo classes with the Auto* factories)

    from ..models.image_processing_hardmo import HardMoImageProcessor

    loaded = AutoModel.from_pretrained(model)
    if getattr(loaded.config, "num_joints", 24) != 24:
        raise ValueError(f"{model}: predicts {loaded.config.num_joints} joints (an SMPL-X body); HardMo labels and "
                         "metrics are SMPL (24 joints)")
    try:
        processor = AutoImageProcessor.from_pretrained(model)
    except OSError:
        logger.warning("%s has no preprocessor_config.json; using the %s preset's crops", model, loaded.config.model_type)
        processor = HardMoImageProcessor.for_model_config(loaded.config)
    return loaded, processor


@dataclass
class Predictions:
    """One batch of predictions: SMPL joints (m) and rotations, and 2D keypoints in full-image px."""

    joints: object  # EvaluationJoints
    keypoints_2d: torch.Tensor  # (B,44,2) px
    fingertips_2d: torch.Tensor  # (B,10,2) px
    box_center: torch.Tensor  # (B,2) px, the crop box the model saw
    box_size: torch.Tensor  # (B,) px


class ProcessorCrops:
    """Runs in the data workers: decode the image and cut the model's crop around the row's box."""

    def __init__(self, processor):
        self.processor = processor

    def __call__(self, row: dict, labels: dict) -> dict:
        half = 0.5 * labels["box_size"]
        cx, cy = (float(v) for v in labels["center"])
        box = np.array([[cx - half, cy - half, cx + half, cy + half]], dtype=np.float32)
        inputs = self.processor(images=[row_image(row)], boxes=[box], return_tensors="pt")
        return {
            "pixel_values": inputs["pixel_values"][0],
            "crop_center": torch.as_tensor(inputs["box_center"], dtype=torch.float32).reshape(-1, 2)[0],
            "crop_size": torch.as_tensor(inputs["box_size"], dtype=torch.float32).reshape(-1)[0],
        }


class LabelBoxes:
    """The oracle needs no image: the row's own box stands for the crop box."""

    def __call__(self, row: dict, labels: dict) -> dict:
        return {"crop_center": torch.as_tensor(labels["center"]), "crop_size": torch.tensor(labels["box_size"])}


class ModelPredictor:
    """A HardMo model folder or Hub repo, with its image processor; crops in the data workers.

    The crops are the processor's with its anti-aliasing blur off: the authors' test loader (4D-Humans
    ``ImageDataset`` / ``get_example``) warps without it (the blur belongs to their demo loader).
    """

    def __init__(self, model: str, body: EvaluationBodyModel, device: torch.device):
        self.model, self.processor = load_model_and_processor(model)
        self.model.to(device).eval()
        self.model.attach_body_model(body.smpl)
        self.processor.antialias = False
        self.body = body
        self.device = device
        self.name = Path(model).name if Path(model).exists() else model
        self.preparer = ProcessorCrops(self.processor)

    @torch.inference_mode()
    def predict(self, batch: dict) -> Predictions:
        out = self.model(pixel_values=batch["pixel_values"].to(self.device))
        # The model ran the attached SMPL layer (``body.smpl``) already: reuse its joints.
        j19 = out.keypoints_3d[:, 25:] if out.keypoints_3d is not None else None
        rotmat = torch.cat([out.global_orient, out.body_pose], dim=1)
        joints = self.body.joints_from_smpl(out.joints, j19, rotmat)
        center = batch["crop_center"].to(self.device)
        size = batch["crop_size"].to(self.device)
        crop_2d = _label44_2d(out)
        return Predictions(
            joints=joints,
            keypoints_2d=M.crop_to_full_image(crop_2d, center, size),
            fingertips_2d=M.crop_to_full_image(out.joints_2d[:, list(M.SMPLX45_FINGERTIPS)], center, size),
            box_center=center,
            box_size=size,
        )


def _label44_2d(out) -> torch.Tensor:
    """Crop-frame 2D keypoints in the label-44 layout from a model output (J19 rows NaN without J19)."""
    if out.keypoints_2d is not None:
        return out.keypoints_2d
    body25 = out.joints_2d[:, list(SMPLX45_TO_BODY25)]
    return torch.cat([body25, body25.new_full((body25.shape[0], 19, 2), float("nan"))], dim=1)


class LabelsAsPredictions:
    """The oracle: each row's own labels as the prediction (MPJPE 0, PCK 1 by construction).

    It checks the evaluation pipeline end to end (data, SMPL, alignment, PCK bookkeeping) without a model.
    """

    name = "labels (oracle)"

    def __init__(self, body: EvaluationBodyModel, device: torch.device):
        self.body = body
        self.device = device
        self.preparer = LabelBoxes()

    @torch.inference_mode()
    def predict(self, batch: dict) -> Predictions:
        joints = self.body(batch["global_orient"].to(self.device), batch["body_pose"].to(self.device),
                           batch["betas"].to(self.device))
        kp = batch["keypoints_2d"].to(self.device)
        hand = batch["hand_keypoints_2d"].to(self.device)
        return Predictions(joints=joints, keypoints_2d=kp[..., :2], fingertips_2d=hand[..., :2],
                           box_center=batch["crop_center"].to(self.device), box_size=batch["crop_size"].to(self.device))


# ----------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------
class PreparedRows(torch.utils.data.IterableDataset):
    """A streaming split with each row turned into tensors by ``prepare`` (in the DataLoader workers)."""

    LABEL_TENSORS = ("keypoints_2d", "hand_keypoints_2d", "global_orient", "body_pose", "betas", "center",
                     "image_size")

    def __init__(self, stream, prepare, pck_norm: str):
        super().__init__()
        self.stream = stream
        self.prepare = prepare
        self.pck_norm = pck_norm

    def __iter__(self):
        for row in SampleStream(self.stream):  # each DataLoader worker reads its own shards, each frame decoded once
            labels = row_labels(row)
            item = {name: torch.as_tensor(labels[name]) for name in self.LABEL_TENSORS}
            item["has_smpl"] = torch.tensor(labels["has_smpl"])
            item["pck_normalizer"] = torch.tensor(
                labels["box_size"] if self.pck_norm == "bbox" else float(labels["image_size"].max()))
            item["sample_id"] = labels["sample_id"]
            item["category"] = labels["category"]
            item.update(self.prepare(row, labels))
            yield item


def load_split(dataset: str, config: str, split: str):
    """The split as a streaming ``datasets.IterableDataset`` (a local folder or a Hub dataset id)."""
    from datasets import load_dataset

    return load_dataset(dataset, config, split=split, streaming=True)


def _split_size(stream, split: str) -> int | None:
    try:
        return int(stream.info.splits[split].num_examples)
    except (AttributeError, KeyError, TypeError):
        return None


# ----------------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------------
def evaluate(settings: EvaluationSettings) -> dict:
    """Run the evaluation and write its reports into ``settings.out``. Returns the results dict."""
    from tqdm.auto import tqdm

    device = torch.device(settings.device)
    body = EvaluationBodyModel(settings.smpl, settings.j19).to(device)
    if not body.has_j19:
        logger.warning("No J19 regressor (--j19 SMPL_to_J19.pkl): MPJPE uses the SMPL pelvis as root, which is "
                       "not the paper's protocol (label joint 39); the report marks it.")
    predictor = (LabelsAsPredictions(body, device) if settings.model == LABELS_MODEL
                 else ModelPredictor(settings.model, body, device))

    stream = load_split(settings.dataset, settings.config, settings.split)
    total = _split_size(stream, settings.split)
    if settings.limit is not None:
        total = settings.limit if total is None else min(total, settings.limit)
    num_shards = getattr(stream, "num_shards", None) or getattr(stream, "n_shards", 1)
    workers = max(0, min(settings.num_workers, num_shards))
    loader = torch.utils.data.DataLoader(
        PreparedRows(stream, predictor.preparer, settings.pck_norm), batch_size=settings.batch_size, num_workers=workers,
        persistent_workers=False, prefetch_factor=4 if workers else None,
    )

    settings.out.mkdir(parents=True, exist_ok=True)
    accumulator = MetricAccumulator()
    num_batches, data_time, model_time = 0, 0.0, 0.0
    start = time.perf_counter()
    with open(settings.out / "per_sample.csv", "w", newline="") as per_sample_file, \
            tqdm(total=total, unit="sample", desc=f"evaluate {settings.config}/{settings.split}",
                 disable=not settings.progress) as bar:
        per_sample = csv.writer(per_sample_file)
        per_sample.writerow(PER_SAMPLE_COLUMNS)
        iterator = iter(loader)
        seen = 0
        while settings.limit is None or seen < settings.limit:
            tick = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                break
            data_time += time.perf_counter() - tick
            tick = time.perf_counter()
            if settings.limit is not None and seen + len(batch["sample_id"]) > settings.limit:
                keep = settings.limit - seen
                batch = {k: v[:keep] for k, v in batch.items()}
            values = _evaluate_batch(predictor, body, batch, accumulator, device)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            model_time += time.perf_counter() - tick
            _write_per_sample(per_sample, batch, values)
            n = len(batch["sample_id"])
            seen += n
            num_batches += 1
            bar.update(n)
        del iterator
    elapsed = time.perf_counter() - start
    if accumulator.num_samples == 0:
        raise ValueError(f"{settings.dataset} [{settings.config}/{settings.split}] yielded no samples to evaluate")

    results = {
        "model": settings.model,
        "model_name": predictor.name,
        "dataset": settings.dataset,
        "config": settings.config,
        "split": settings.split,
        "num_samples": accumulator.num_samples,
        "num_batches": num_batches,
        "protocol": {
            "root": body.root_name + ("" if body.root_name == ROOT_PAPER else " (non-paper)"),
            "paper_root": body.root_name == ROOT_PAPER,
            "pck_normalization": settings.pck_norm,
            "pck_confidence_threshold": M.PCK_CONFIDENCE_THRESHOLD,
            "pck_thresholds": list(M.PCK_THRESHOLDS),
            "units": {"mpjpe": "mm", "pa_mpjpe": "mm", "angle_bias": "deg", "pck": "fraction"},
        },
        "metrics": accumulator.result(),
        "throughput": {
            "samples_per_second": accumulator.num_samples / elapsed,
            "data_wait_seconds": data_time,
            "model_and_metrics_seconds": model_time,
            "total_seconds": elapsed,
            "device": str(device),
            "batch_size": settings.batch_size,
            "num_workers": workers,
        },
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()},
    }
    write_reports(results, settings.out)
    if settings.write_model_index:
        if settings.model == LABELS_MODEL or not Path(settings.model).is_dir():
            raise ValueError("--write-model-index needs --model to be a local model folder")
        path = write_model_index(Path(settings.model), results)
        logger.info("model-index updated in %s", path)
    return results


def _evaluate_batch(predictor, body: EvaluationBodyModel, batch: dict, accumulator: MetricAccumulator,
                    device: torch.device) -> dict:
    pred = predictor.predict(batch)
    gt = body(batch["global_orient"].to(device), batch["body_pose"].to(device), batch["betas"].to(device))
    eval_batch = EvaluationBatch(
        pred_joints44=pred.joints.joints44, gt_joints44=gt.joints44,
        pred_root=pred.joints.root, gt_root=gt.root,
        pred_rotmat=pred.joints.rotmat, gt_rotmat=gt.rotmat,
        has_smpl=batch["has_smpl"].to(device),
        pred_keypoints_2d=pred.keypoints_2d, pred_fingertips_2d=pred.fingertips_2d,
        gt_keypoints_2d=batch["keypoints_2d"].to(device), gt_fingertips_2d=batch["hand_keypoints_2d"].to(device),
        pck_normalizer=batch["pck_normalizer"].to(device),
        box_center=pred.box_center, box_size=pred.box_size,
        categories=list(batch["category"]),
    )
    return accumulator.update(eval_batch)


def _write_per_sample(writer, batch: dict, values: dict) -> None:
    cols = {k: values[k].detach().cpu().tolist() for k in PER_SAMPLE_COLUMNS[3:]}
    has = batch["has_smpl"].tolist()
    for i, (sid, cat) in enumerate(zip(batch["sample_id"], batch["category"])):
        writer.writerow([sid, cat, int(has[i])] + [_csv_number(cols[k][i]) for k in PER_SAMPLE_COLUMNS[3:]])


def _csv_number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6g}"


def write_reports(results: dict, out: Path) -> None:
    """``results.json``, ``results.md`` and the authors' ``results.csv`` in ``out``."""
    out = Path(out)
    (out / "results.json").write_text(json.dumps(results, indent=2, allow_nan=True) + "\n")
    (out / "results.md").write_text(markdown_report(results))
    csv_path = out / "results.csv"
    if csv_path.exists():
        csv_path.unlink()  # one run per folder; the authors' tool appends across runs
    write_authors_csv(csv_path, results)
