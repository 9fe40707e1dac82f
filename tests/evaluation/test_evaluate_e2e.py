"""``hardmo-hf evaluate`` end to end on the built sample dataset (real ``datasets`` streaming, real SMPL layer)."""

from __future__ import annotations

import csv
import json
import math

import pytest

from hardmo_hf.cli import main as cli


@pytest.mark.parametrize("config", ["foot_p2", "hand"])
def test_labels_as_predictions_give_zero_error_and_full_pck(config, sample_dataset, synthetic_smpl_dir, tmp_path):
    out = tmp_path / config
    rc = cli(["evaluate", "--model", "labels", "--dataset", str(sample_dataset), "--config", config,
              "--split", "test", "--smpl", str(synthetic_smpl_dir), "--j19", str(synthetic_smpl_dir / "SMPL_to_J19.pkl"),
              "--batch-size", "4", "--num-workers", "1", "--out", str(out), "--no-progress"])
    assert rc == 0
    results = json.loads((out / "results.json").read_text())
    m = results["metrics"]
    assert results["num_samples"] > 0 and m["num_samples_3d"] > 0
    assert results["protocol"]["paper_root"] is True
    for key in ("mpjpe", "pa_mpjpe"):
        assert m[key]["body"] == pytest.approx(0.0, abs=1e-3) and m[key]["foot"] == pytest.approx(0.0, abs=1e-3)
    assert m["angle_bias"] == 0.0
    for name in ("body", "foot", "hand", "body_all"):
        for thr, value in m["pck"][name].items():
            assert value == 1.0, (name, thr)
    # Per-class results cover every sample; the per-sample file has one row each.
    assert sum(g["num_samples"] for g in m["per_category"].values()) == results["num_samples"]
    with open(out / "per_sample.csv") as handle:
        assert len(list(csv.DictReader(handle))) == results["num_samples"]
    md = (out / "results.md").read_text()
    assert "(paper)" in md and "labels (oracle)" in md
    with open(out / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["metric_name"] for r in rows} >= {"mode_mpjpe", "mode_re", "mode_foot_re", "body_kpAvg_pck_0.05"}


def test_limit_and_non_paper_root_without_j19(sample_dataset, synthetic_smpl_dir, tmp_path):
    import shutil

    from hardmo_hf.evaluation.evaluate import EvaluationSettings, evaluate

    smpl_only = tmp_path / "smpl_only"
    smpl_only.mkdir()
    shutil.copy(synthetic_smpl_dir / "SMPL_NEUTRAL.pkl", smpl_only)  # no SMPL_to_J19.pkl beside it
    results = evaluate(EvaluationSettings(
        model="labels", dataset=str(sample_dataset), config="normal", split="test", limit=5, batch_size=2,
        smpl=str(smpl_only), num_workers=0, out=tmp_path / "out", progress=False, pck_norm="image"))
    assert results["num_samples"] == 5
    assert results["protocol"]["paper_root"] is False and "non-paper" in results["protocol"]["root"]
    assert results["metrics"]["mpjpe"]["body"] == pytest.approx(0.0, abs=1e-3)
    md = (tmp_path / "out" / "results.md").read_text()
    assert "†" in md and "‡" in md


def test_missing_smpl_is_a_clear_error(sample_dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HARDMO_SMPL_PATH", raising=False)
    rc = cli(["evaluate", "--model", "labels", "--dataset", str(sample_dataset), "--config", "foot_p2",
              "--out", str(tmp_path), "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "SMPL" in err and "smpl.is.tue.mpg.de" in err


def test_unknown_split_is_an_error_not_an_empty_table(sample_dataset, synthetic_smpl_dir, tmp_path):
    from hardmo_hf.evaluation.evaluate import EvaluationSettings, evaluate

    with pytest.raises(ValueError, match="split"):
        evaluate(EvaluationSettings(model="labels", dataset=str(sample_dataset), config="foot_p2",
                                    split="does_not_exist", smpl=str(synthetic_smpl_dir), out=tmp_path,
                                    num_workers=0, progress=False))


def _finite(value) -> bool:
    return isinstance(value, float) and math.isfinite(value)


def test_tiny_model_gives_a_finite_table_and_writes_the_model_index(tiny_hmr2_dir, sample_dataset,
                                                                      synthetic_smpl_dir, tmp_path):
    import shutil

    from huggingface_hub import ModelCard

    model_dir = tmp_path / "model"
    shutil.copytree(tiny_hmr2_dir, model_dir)
    out = tmp_path / "eval"
    rc = cli(["evaluate", "--model", str(model_dir), "--dataset", str(sample_dataset), "--config", "foot_p2",
              "--split", "test", "--limit", "8", "--batch-size", "4", "--num-workers", "1",
              "--smpl", str(synthetic_smpl_dir), "--j19", str(synthetic_smpl_dir / "SMPL_to_J19.pkl"),
              "--out", str(out), "--write-model-index", "--no-progress"])
    assert rc == 0
    results = json.loads((out / "results.json").read_text())
    m = results["metrics"]
    assert results["num_samples"] == 8
    values = [m["mpjpe"]["body"], m["mpjpe"]["foot"], m["pa_mpjpe"]["body"], m["pa_mpjpe"]["foot"],
              m["angle_bias"], m["kpl2"]] + [v for s in ("body", "foot", "hand") for v in m["pck"][s].values()]
    assert all(_finite(v) for v in values), values
    assert m["mpjpe"]["body"] > 1.0  # a random model is not the labels
    row = next(line for line in (out / "results.md").read_text().splitlines() if "(this run)" in line)
    assert "nan" not in row.lower() and "–" not in row
    card = ModelCard.load(model_dir / "README.md")
    ours = [r for r in card.data.eval_results if r.dataset_config == "foot_p2"]
    assert {r.metric_name for r in ours} >= {"MPJPE body (mm)", "PA-MPJPE foot (mm)", "PCK@0.05 foot"}
