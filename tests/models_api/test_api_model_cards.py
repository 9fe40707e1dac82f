"""Model cards: valid Hub metadata, the paper's numbers from the named tables, a usage snippet that runs."""

from __future__ import annotations

import re

import pytest
from huggingface_hub import ModelCard
from PIL import Image

from hardmo_hf.constants import CITATION
from hardmo_hf.model_cards import CARD_FILES, CARD_MODEL_IDS, card_path, card_text, usage_snippet

MODEL_NAMES = {"hmr2": "HardMo-4DHumans", "hmr": "HardMo-HMR"}


@pytest.fixture(scope="module")
def facts_tables(upstream_fixtures) -> dict[str, str]:
    """``"Table S-1" -> its text`` from the paper's facts sheet (``shared/paper/HARDMO_FACTS.md``)."""
    facts = (upstream_fixtures.parents[1] / "paper" / "HARDMO_FACTS.md").read_text(encoding="utf-8")
    parts = re.split(r"(?m)^(?=Table S-\d)|^(?=Data scale)|^(?=## )", facts)
    return {re.match(r"Table S-\d", part).group(0): part for part in parts if re.match(r"Table S-\d", part)}


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+\.\d+", text)]


def _paper_numbers(block: str, model_name: str) -> list[float]:
    """Every number the paper gives for ``model_name`` (and its variants) in one table."""
    if block.startswith(
        "Table S-4"
    ):  # prose: "HardMo-4DHumans w/o OPT 41.5 PA-MPJPE / 64.0 MPJPE; w/ OPT ..."
        return _numbers(block.split(model_name, 1)[1])
    rows = [line.split("|")[2:] for line in block.splitlines() if line.startswith(f"| {model_name}")]
    return _numbers(" ".join(" ".join(cells) for cells in rows))


@pytest.mark.parametrize("kind", sorted(CARD_FILES))
def test_card_metadata_is_valid(kind):
    card = ModelCard.load(card_path(kind))
    data = card.data.to_dict()
    assert data["library_name"] == "transformers"
    assert data["pipeline_tag"] == "image-to-3d"  # the Hub's task closest to mesh recovery
    assert data["license"] == "other" and data["license_name"] and data["license_link"].startswith("https://")
    assert "human-mesh-recovery" in data["tags"]
    for section in ("## Usage", "## Licence", "## Limitations", "## Citation", "licence"):
        assert section in card.text
    assert "never included" in card.text or "**not** included" in card.text  # the body-model licence note
    if kind in MODEL_NAMES:
        assert data["datasets"] == ["hardmo/HardMo"]
        assert CITATION in card.text
        assert "smpl.is.tue.mpg.de" in card.text


@pytest.mark.parametrize("kind", sorted(MODEL_NAMES))
def test_model_index_holds_the_papers_numbers_from_the_named_tables(kind, facts_tables):
    card = ModelCard.load(card_path(kind))
    results = card.data.eval_results
    assert results and all(r.source_url == "https://ljqnb.github.io/HardMo.github.io" for r in results)
    assert {card.data.model_name} == {MODEL_NAMES[kind]}
    tables = facts_tables
    by_table: dict[str, list[float]] = {}
    for result in results:
        table = re.search(r"Table S-\d", result.source_name).group(0)
        by_table.setdefault(table, []).append(float(result.metric_value))
    expected_tables = {"hmr2": {"Table S-3", "Table S-4"}, "hmr": {"Table S-1", "Table S-2"}}[kind]
    assert set(by_table) == expected_tables
    for table, values in by_table.items():
        paper = _paper_numbers(tables[table], MODEL_NAMES[kind])
        assert len(paper) >= 4, table
        assert sorted(values) == pytest.approx(sorted(paper)), table


@pytest.mark.parametrize("kind", sorted(CARD_FILES))
def test_usage_snippet_runs_against_a_tiny_model(kind, tiny_dirs, rgb_image, tmp_path, monkeypatch, capsys):
    snippet = usage_snippet(card_text(kind))
    model_id = CARD_MODEL_IDS[kind]
    assert f'model_id = "{model_id}"' in snippet
    snippet = snippet.replace(f'"{model_id}"', repr(str(tiny_dirs[kind])))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        "huggingface_hub.constants.HF_HUB_OFFLINE", True
    )  # the snippet must not need the network
    Image.fromarray(rgb_image).save(tmp_path / "dancer.jpg")
    exec(compile(snippet, f"{card_path(kind).name}:usage", "exec"), {"__name__": "__card_usage__"})
    printed = capsys.readouterr().out
    assert ("(63,)" if kind == "bedlam" else "(69,)") in printed


@pytest.mark.parametrize("kind", sorted(CARD_FILES))
def test_converter_writes_the_card_and_the_processor(kind, converted_dirs):
    from hardmo_hf.models.image_processing_hardmo import PRESETS, HardMoImageProcessor

    folder = converted_dirs[kind]
    assert (folder / "README.md").read_text(encoding="utf-8") == card_text(kind)
    processor = HardMoImageProcessor.from_pretrained(folder)
    expected = HardMoImageProcessor.from_preset(kind)
    assert processor.to_dict() == {
        **expected.to_dict(),
        "auto_map": {"AutoImageProcessor": "image_processing_hardmo.HardMoImageProcessor"},
    }
    assert PRESETS[kind]["image_size"] == processor.image_size
