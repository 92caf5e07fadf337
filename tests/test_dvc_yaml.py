"""dvc.yaml declares exactly the parameters each stage reads, as explicit keys.

Explicit keys, never whole sections: with whole sections (`- grid`) DVC 3.67's run cache restored
a `track` run made with grid.size 3 for `dvc exp run -S grid.size=4` (seen in the e2e ablation
test), silently handing stale tracks to later stages.
"""

import dataclasses
from pathlib import Path

import pytest
import yaml

from lang2motion import config

REPO = Path(__file__).resolve().parents[1]
NESTED = {("data", "synth"): config.SynthConfig, ("data", "mevis"): config.MevisConfig,
          ("data", "folder"): config.FolderConfig}
# stage -> sections whose every key the stage script reads
FULLY_READ = {"prepare": ["data"], "track": ["grid", "track"], "render": ["overlay"],
              "embed": ["clip"], "train": ["model", "loss", "train"]}


def section_keys(section: str) -> set[str]:
    keys = set()
    for f in dataclasses.fields(config.SECTIONS[section]):
        nested = NESTED.get((section, f.name))
        if nested is None:
            keys.add(f"{section}.{f.name}")
        else:
            keys |= {f"{section}.{f.name}.{g.name}" for g in dataclasses.fields(nested)}
    return keys


def declared(stage: str) -> set[str]:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    return set(stages[stage].get("params", []))


@pytest.mark.parametrize("stage", sorted(FULLY_READ))
def test_stage_declares_every_key_it_reads_explicitly(stage):
    params = declared(stage)
    whole = params & set(config.SECTIONS)
    assert not whole, f"{stage}: whole sections {whole}"
    for section in FULLY_READ[stage]:
        missing = section_keys(section) - params
        assert not missing, f"{stage} reads {section} but does not declare {sorted(missing)}"


def test_every_declared_key_exists_in_params_yaml():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for stage in FULLY_READ:
        for key in declared(stage):
            node = params
            for part in key.split("."):
                assert isinstance(node, dict) and part in node, f"{stage}: {key} not in params.yaml"
                node = node[part]
