"""Streaming accumulation over batches, and the reports (paper table, authors' CSV, model-index)."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hardmo_hf.evaluation import metrics as M
from hardmo_hf.evaluation.accumulate import EvaluationBatch, MetricAccumulator
from hardmo_hf.evaluation.report import (
    AUTHORS_CSV_COLUMNS,
    authors_metric_dict,
    markdown_report,
    write_authors_csv,
    write_model_index,
)
from hardmo_hf.models.geometry_hardmo import axis_angle_to_rotmat


def random_batch(seed: int, b: int, categories=("samba", "tango")) -> EvaluationBatch:
    g = torch.Generator().manual_seed(seed)
    gt_j = torch.randn(b, 44, 3, generator=g, dtype=torch.float64) * 0.3
    pred_j = gt_j + torch.randn(b, 44, 3, generator=g, dtype=torch.float64) * 0.02
    aa = torch.randn(b, 24, 3, generator=g, dtype=torch.float64) * 0.5
    gt_r = axis_angle_to_rotmat(aa)
    pred_r = axis_angle_to_rotmat(aa + torch.randn(b, 24, 3, generator=g, dtype=torch.float64) * 0.1)
    gt_kp = torch.rand(b, 44, 3, generator=g, dtype=torch.float64) * 200
    gt_kp[..., 2] = torch.rand(b, 44, generator=g, dtype=torch.float64)
    gt_tips = torch.rand(b, 10, 3, generator=g, dtype=torch.float64) * 200
    gt_tips[..., 2] = torch.rand(b, 10, generator=g, dtype=torch.float64)
    return EvaluationBatch(
        pred_joints44=pred_j, gt_joints44=gt_j, pred_root=pred_j[:, 39], gt_root=gt_j[:, 39],
        pred_rotmat=pred_r, gt_rotmat=gt_r,
        has_smpl=torch.rand(b, generator=g) > 0.2,
        pred_keypoints_2d=gt_kp[..., :2] + torch.randn(b, 44, 2, generator=g, dtype=torch.float64) * 4,
        pred_fingertips_2d=gt_tips[..., :2] + torch.randn(b, 10, 2, generator=g, dtype=torch.float64) * 4,
        gt_keypoints_2d=gt_kp, gt_fingertips_2d=gt_tips,
        pck_normalizer=torch.full((b,), 150.0, dtype=torch.float64),
        box_center=torch.full((b, 2), 100.0, dtype=torch.float64), box_size=torch.full((b,), 200.0, dtype=torch.float64),
        categories=[categories[i % len(categories)] for i in range(b)],
    )


def split_batch(batch: EvaluationBatch, cut: int) -> tuple[EvaluationBatch, EvaluationBatch]:
    def part(sl):
        kwargs = {k: (v[sl] if isinstance(v, (torch.Tensor, list)) else v) for k, v in vars(batch).items()}
        return EvaluationBatch(**kwargs)

    return part(slice(0, cut)), part(slice(cut, None))


def assert_results_close(a, b, path=""):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_results_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_results_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), path
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12), path
    else:
        assert a == b, path


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), b=st.integers(2, 12), data=st.data())
def test_results_do_not_depend_on_how_the_split_is_batched(seed, b, data):
    batch = random_batch(seed, b)
    cut = data.draw(st.integers(1, b - 1))
    whole, parts = MetricAccumulator(), MetricAccumulator()
    whole.update(batch)
    for p in split_batch(batch, cut):
        parts.update(p)
    assert_results_close(whole.result(), parts.result())


def test_3d_metrics_use_only_rows_with_smpl_labels_and_per_class_groups_add_up():
    batch = random_batch(0, 8)
    acc = MetricAccumulator()
    values = acc.update(batch)
    res = acc.result()
    has = batch.has_smpl
    assert res["num_samples"] == 8 and res["num_samples_3d"] == int(has.sum())
    assert res["mpjpe"]["body"] == pytest.approx(float(values["mpjpe_body"][has].mean()))
    assert torch.isnan(values["mpjpe_body"][~has]).all()
    # kpl2 and PCK count every row
    assert res["kpl2"] == pytest.approx(float(values["kpl2"].mean()))
    assert sum(g["num_samples"] for g in res["per_category"].values()) == 8
    assert set(res["per_category"]) == {"samba", "tango"}
    # Mean over samples of the per-sample error: recompute body MPJPE by hand (mm, root-centred).
    idx = [0, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]
    p = batch.pred_joints44 - batch.pred_root[:, None]
    g = batch.gt_joints44 - batch.gt_root[:, None]
    per = 1000 * (p[:, idx] - g[:, idx]).norm(dim=-1).mean(-1)
    assert res["mpjpe"]["body"] == pytest.approx(float(per[has].mean()))


def test_authors_metric_names():
    acc = MetricAccumulator()
    acc.update(random_batch(1, 6))
    names = authors_metric_dict(acc.result())
    for name in ("mode_mpjpe", "mode_re", "mode_foot_mpjpe", "mode_foot_re", "mode_angle_bias", "mode_kpl2",
                 "body_kpAvg_pck_0.01", "body_kpAvg_pck_0.05", "foot_kpAvg_pck_0.1", "foot_kp0_pck_0.05",
                 "kpAvg_pcks_0.05", "kpAvg_pcks_hand_0.01", "kp11_pcks_hand_0.05"):
        assert name in names, name
    assert not any(k.startswith("body_kp17") for k in names)  # 17 body keypoints: kp0..kp16


def results_for(config: str, paper_root=True, pck_norm="bbox"):
    acc = MetricAccumulator()
    acc.update(random_batch(2, 6))
    return {
        "model": "/models/tiny", "model_name": "tiny", "dataset": "hardmo", "config": config, "split": "test",
        "num_samples": 6, "num_batches": 1,
        "protocol": {"root": "label_joint_39" if paper_root else "smpl_pelvis (non-paper)", "paper_root": paper_root,
                     "pck_normalization": pck_norm},
        "metrics": acc.result(),
    }


@pytest.mark.parametrize("config,paper_row,header", [
    ("foot_p1", "| HardMo-HMR (w/ OPT) (paper) | 23.6 / 34.9 | 15.4 / 10.8 | 0.71 / 0.58 | 0.99 / 0.99 |",
     "MPJPE ↓ (Body / Foot)"),
    ("foot_p2", "| HardMo-HMR (w/o OPT) (paper) | 42.1 / 58.1 | 25.6 / 21.1 | 0.57 / 0.51 | 0.98 / 0.98 |",
     "PCK@0.05 ↑ (Body / Foot)"),
    ("hand", "| HardMo-HMR (w/ both stages) (paper) | 0.543 / 0.362 | 0.976 / 0.978 |", "PCK@0.01 ↑ (Body / Hand)"),
    ("normal", "| HardMo-4DHumans (w/ OPT) (paper) | 40.7 | 62.5 |", "PA-MPJPE ↓"),
])
def test_markdown_table_follows_the_paper_layout(config, paper_row, header):
    res = results_for(config)
    md = markdown_report(res)
    assert paper_row in md
    assert header in md
    ours = next(line for line in md.splitlines() if line.startswith("| **tiny** (this run)"))
    m = res["metrics"]
    if config == "hand":
        expected = f"{m['pck']['body_all']['0.01']:.3f} / {m['pck']['hand']['0.01']:.3f}"
    elif config == "normal":
        expected = f"{m['pa_mpjpe']['body']:.1f} | {m['mpjpe']['body']:.1f}"
    else:
        expected = f"{m['mpjpe']['body']:.1f} / {m['mpjpe']['foot']:.1f}"
    assert expected in ours
    assert "†" not in md and "‡" not in md


def test_markdown_marks_non_paper_protocols():
    md = markdown_report(results_for("foot_p2", paper_root=False, pck_norm="image"))
    ours = next(line for line in md.splitlines() if "(this run)" in line)
    assert ours.count("†") == 1 and ours.count("‡") == 2
    assert "Not the paper's protocol" in md and "longest image side" in md


def test_authors_csv_columns(tmp_path):
    res = results_for("foot_p2")
    path = tmp_path / "results.csv"
    write_authors_csv(path, res)
    write_authors_csv(path, res)  # appends, one header
    with open(path) as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == AUTHORS_CSV_COLUMNS
    n = len(authors_metric_dict(res["metrics"]))
    assert len(rows) == 1 + 2 * n
    mode_re = next(r for r in rows[1:] if r[4] == "mode_re")
    assert float(mode_re[5]) == pytest.approx(res["metrics"]["pa_mpjpe"]["body"])
    assert mode_re[3] == "hardmo:foot_p2:test" and mode_re[7] == "1"


def test_model_index_is_added_and_replaced_not_duplicated(tmp_path):
    from huggingface_hub import ModelCard

    (tmp_path / "README.md").write_text(
        "---\nlicense: cc-by-sa-4.0\nmodel-index:\n- name: HardMo-HMR\n  results:\n  - task:\n      type: "
        "human-mesh-recovery\n    dataset:\n      name: HardMo-Foot (Protocol 2)\n      type: hardmo\n    metrics:\n"
        "    - type: mpjpe\n      value: 27.5\n      name: MPJPE body (mm), paper Table S-1\n---\n\n# HardMo-HMR\n"
    )
    res = results_for("foot_p2")
    write_model_index(tmp_path, res)
    write_model_index(tmp_path, res)
    card = ModelCard.load(tmp_path / "README.md")
    results = card.data.eval_results
    ours = [r for r in results if (r.metric_config or "").startswith("hardmo-hf evaluate")]
    assert len(ours) == 8  # (MPJPE, PA-MPJPE) x (body, foot) + PCK@(0.01, 0.05) x (body, foot)
    assert any(r.metric_name == "MPJPE body (mm), paper Table S-1" for r in results)  # kept
    body = next(r for r in ours if r.metric_name == "MPJPE body (mm)")
    assert body.metric_value == pytest.approx(round(res["metrics"]["mpjpe"]["body"], 4))
    assert body.dataset_config == "foot_p2" and body.dataset_split == "test"
    assert card.data.license == "cc-by-sa-4.0" and "# HardMo-HMR" in card.text


def test_geodesic_angle_matches_acos_where_defined():
    g = torch.Generator().manual_seed(0)
    a = axis_angle_to_rotmat(torch.randn(200, 3, generator=g, dtype=torch.float64))
    b = axis_angle_to_rotmat(torch.randn(200, 3, generator=g, dtype=torch.float64))
    rel = a.transpose(-1, -2) @ b
    ref = torch.acos(((rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1, 1))
    np.testing.assert_allclose(M.geodesic_angle(a, b).numpy(), ref.numpy(), atol=1e-7)
    same = M.geodesic_angle(a.float(), a.float())
    assert (same == 0).all()
