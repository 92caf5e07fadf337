"""params.yaml and dvc.yaml's per-stage params are what lang2motion/config.py declares.

Each stage lists the explicit keys it reads, never whole sections: with whole sections
(`- grid`) DVC 3.67's run cache restored a `track` run made with grid.size 3 for
`dvc exp run -S grid.size=4` (seen in the e2e ablation test), silently handing stale tracks to
later stages.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lang2motion import codedeps, config

REPO = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def test_params_yaml_is_generated_from_the_declarations() -> None:
    assert (REPO / "params.yaml").read_text() == config.params_yaml_text(), (
        "params.yaml differs from lang2motion/config.py's declarations; run `make params`")


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_params_are_what_the_stage_reads(stage: str) -> None:
    declared = codedeps.declared_lists(STAGES[stage])["params"]
    derived = config.stage_params(stage)
    assert declared == derived, (
        f"dvc.yaml stage {stage}: params differ from what lang2motion/config.py says it reads; "
        f"run `make deps`.\nmissing: {sorted(set(derived) - set(declared))}\n"
        f"not read: {sorted(set(declared) - set(derived))}")


def test_every_stage_a_parameter_names_is_a_dvc_stage() -> None:
    assert tuple(STAGES) == config.STAGES
    for parameter in config.parameters():
        assert parameter.read_by, f"{parameter.key}: no stage reads it"
        assert set(parameter.read_by) <= set(STAGES), f"{parameter.key}: {parameter.read_by}"


def test_update_rewrites_params_and_code_deps_and_keeps_the_rest(tmp_path: Path) -> None:
    text = (REPO / "dvc.yaml").read_text()
    stale = text.replace("      - data.source\n", "", 1).replace(
        "      - pipeline/track.py\n", "      - pipeline/track.py\n      - lang2motion/cli.py\n")
    assert stale != text
    path = tmp_path / "dvc.yaml"
    path.write_text(stale)
    changed = codedeps.update_dvc_yaml(path)
    assert path.read_text() == text
    assert changed == ["prepare", "track"]


def test_generated_params_yaml_holds_every_default_with_its_type() -> None:
    generated = yaml.safe_load(config.params_yaml_text())
    assert generated == config.defaults()
    flat = {p.key: p.default for p in config.parameters()}
    for key, default in flat.items():
        node = generated
        for part in key.split("."):
            node = node[part]
        assert type(node) is type(default), f"{key}: {node!r} reads back as {type(node)}"


def test_every_parameter_has_a_description() -> None:
    for parameter in config.parameters():
        assert parameter.meta["help"].strip(), f"{parameter.key} has no description"


def test_flags_are_the_declared_ones() -> None:
    neutral = config.flagged("result_neutral")
    assert "train.device" in neutral and "eval.bootstrap" in neutral
    assert "loss.l1" not in neutral and "grid.size" not in neutral
    with pytest.raises(ValueError, match="no parameter flag"):
        config.flagged("fast")


def test_track_declares_the_data_source_it_reads_through_max_videos() -> None:
    # DataConfig.max_videos: data.mevis.max_videos applies only when data.source is mevis
    assert {"data.source", "data.mevis.max_videos"} <= set(config.stage_params("track"))
