"""``hardmo-hf evaluate`` end to end on the built sample dataset (real ``datasets`` streaming, real SMPL layer)."""

from __future__ import annotations

import csv
import json

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
    from hardmo_hf.evaluation.evaluate import EvaluationSettings, evaluate

    results = evaluate(EvaluationSettings(
        model="labels", dataset=str(sample_dataset), config="normal", split="test", limit=5, batch_size=2,
        smpl=str(synthetic_smpl_dir), num_workers=0, out=tmp_path, progress=False, pck_norm="image"))
    assert results["num_samples"] == 5
    assert results["protocol"]["paper_root"] is False and "non-paper" in results["protocol"]["root"]
    assert results["metrics"]["mpjpe"]["body"] == pytest.approx(0.0, abs=1e-3)
    md = (tmp_path / "results.md").read_text()
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
