"""The Lang2Motion paper's numbers (Section 4, Tables 1-8) as printed, and what each row means.

Values are strings exactly as the paper prints them ("0.84 ± 0.02", "0.7s"), so the report can
never reformat, round or confuse them with ours. The paper's setting: MeViS, CoTracker3 tracks,
CLIP ViT-B/32 with OpenAI's weights, 200 epochs on a GPU. Retrieval and recognition numbers are
percentages; the paper does not state the unit of ADE and FDE.

Each ablation row (Tables 4-7) names the parameter overrides (``dvc exp run -S key=value``) that
reproduce it on top of the defaults in :mod:`lang2motion.config`; ``{}`` is the default run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SETTING = "MeViS, CoTracker3, CLIP ViT-B/32 with OpenAI weights"
ADE_UNIT = "unit not stated"


@dataclass(frozen=True)
class PaperRow:
    label: str
    values: Mapping[str, str]
    kind: str = ""                  # the paper's "Type" column or a group name


@dataclass(frozen=True)
class AblationRow:
    """A configuration of an ablation table: the overrides that make it, the paper's values."""

    label: str
    overrides: Mapping[str, Any]
    paper: Mapping[str, str] | None     # None: a row the paper does not have (ours only)
    group: str = ""
    # a method of the default run's tables.json that fills the row instead of an experiment
    # (Table 5's teacher-forced decode: a mode of the trained model, not a run)
    from_full: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)   # e.g. the points of a grid


# Table 1: text-to-trajectory retrieval (Recall@K, %)

RETRIEVAL_KS = (1, 3, 5, 10)
TABLE1: tuple[PaperRow, ...] = (
    PaperRow("Random", {"r1": "0.3", "r3": "0.9", "r5": "1.5", "r10": "2.9"}, "Baseline"),
    PaperRow("CLIP NN", {"r1": "12.3", "r3": "28.4", "r5": "39.7", "r10": "54.2"}, "Retrieval"),
    PaperRow("CLIP4Clip", {"r1": "18.5", "r3": "38.2", "r5": "51.4", "r10": "68.3"},
             "Video-based"),
    PaperRow("X-CLIP", {"r1": "21.7", "r3": "42.6", "r5": "55.8", "r10": "72.1"}, "Video-based"),
    PaperRow("Lang2Motion", {"r1": "34.2", "r3": "58.7", "r5": "71.3", "r10": "84.6"},
             "Trajectory"),
)
# the paper's row label -> our retrieval method key in tables.json (absent: we did not run it)
TABLE1_METHODS = {"Random": "random", "CLIP NN": "clip_nn", "Lang2Motion": "lang2motion"}

# Table 2: trajectory generation quality and efficiency

TABLE2: tuple[PaperRow, ...] = (
    PaperRow("Gemini Veo3", {"aj": "0.42 ± 0.03", "oa": "0.88 ± 0.03", "ade": "18.3",
                             "fde": "32.1", "clip_sim": "0.68", "smoothness": "0.72",
                             "speed": "90s"}, "video generation + trajectory extraction"),
    PaperRow("Sora 2.0", {"aj": "0.45 ± 0.02", "oa": "0.92 ± 0.02", "ade": "19.1", "fde": "33.8",
                          "clip_sim": "0.68", "smoothness": "0.72", "speed": "90s"},
             "video generation + trajectory extraction"),
    PaperRow("Gemini Veo3 Direct", {"aj": "0.28 ± 0.04", "oa": "0.76 ± 0.04", "ade": "24.6",
                                    "fde": "41.2", "clip_sim": "0.54", "smoothness": "0.58",
                                    "speed": "8s"}, "VLM text output"),
    PaperRow("Sora 2.0 Direct", {"aj": "0.31 ± 0.03", "oa": "0.79 ± 0.03", "ade": "25.3",
                                 "fde": "42.7", "clip_sim": "0.54", "smoothness": "0.58",
                                 "speed": "8s"}, "VLM text output"),
    PaperRow("Lang2Motion", {"aj": "0.84 ± 0.02", "oa": "0.98 ± 0.01", "ade": "12.4",
                             "fde": "21.7", "clip_sim": "0.81", "smoothness": "0.89",
                             "speed": "0.7s"}, "trajectory generation"),
)
PAPER_SPEED = "0.7s"   # per generated trajectory (Tables 2, 4, 5); the hardware is not stated

# Table 3: zero-shot human action recognition from skeleton trajectories (%)

NTU = "NTU RGB+D (60 classes)"
KINETICS = "Kinetics-Skeleton (400 classes)"
TABLE3: tuple[PaperRow, ...] = (
    PaperRow("ST-GCN", {"top1": "81.5", "top5": "94.2"}, NTU),
    PaperRow("MotionCLIP", {"top1": "76.7", "top5": "91.3"}, NTU),
    PaperRow("MS-G3D", {"top1": "86.9", "top5": "96.8"}, NTU),
    PaperRow("Lang2Motion", {"top1": "88.3", "top5": "97.2"}, NTU),
    PaperRow("ST-GCN", {"top1": "30.7", "top5": "52.8"}, KINETICS),
    PaperRow("MotionCLIP", {"top1": "35.2", "top5": "58.4"}, KINETICS),
    PaperRow("MS-G3D", {"top1": "38.0", "top5": "60.9"}, KINETICS),
    PaperRow("Lang2Motion", {"top1": "41.6", "top5": "64.3"}, KINETICS),
)
RECOGNIZE_COMMAND = "lang2motion recognize <folder> --classes <file>"

# Tables 4-7: ablations, one run per configuration

TABLE4: tuple[AblationRow, ...] = (
    AblationRow("Lang2Motion (full)", {},
                {"r1": "34.2", "clip_sim": "0.81", "ade": "12.4", "speed": "0.7s"}),
    AblationRow("w/o L_text", {"loss.text": 0},
                {"r1": "22.6", "clip_sim": "0.63", "ade": "14.8", "speed": "0.7s"}),
    AblationRow("w/o L_image", {"loss.image": 0},
                {"r1": "19.8", "clip_sim": "0.59", "ade": "15.2", "speed": "0.7s"}),
    AblationRow("w/o L_text-recon", {"loss.text_recon": 0},
                {"r1": "28.3", "clip_sim": "0.74", "ade": "18.6", "speed": "0.7s"}),
    AblationRow("w/o both CLIP losses", {"loss.text": 0, "loss.image": 0},
                {"r1": "8.4", "clip_sim": "0.41", "ade": "22.1", "speed": "0.7s"}),
)

LOSS_GROUP = "reconstruction loss (autoregressive decoding)"
DECODER_GROUP = "decoding strategy (L1 reconstruction loss)"
TABLE5: tuple[AblationRow, ...] = (
    AblationRow("MSE (L2)", {"loss.l1": False},
                {"ade": "16.8", "fde": "28.3", "smoothness": "0.83", "clip_sim": "0.76",
                 "speed": "0.7s"}, LOSS_GROUP),
    AblationRow("MAE (L1)", {},
                {"ade": "12.4", "fde": "21.7", "smoothness": "0.89", "clip_sim": "0.81",
                 "speed": "0.7s"}, LOSS_GROUP),
    AblationRow("Direct (all frames)", {"model.decoder": "direct"},
                {"ade": "15.7", "fde": "26.3", "smoothness": "0.81", "clip_sim": "0.79",
                 "speed": "0.3s"}, DECODER_GROUP),
    AblationRow("Autoregressive", {},
                {"ade": "12.4", "fde": "21.7", "smoothness": "0.89", "clip_sim": "0.81",
                 "speed": "0.7s"}, DECODER_GROUP),
    AblationRow("Teacher forcing (train only)", {},
                {"ade": "11.8", "fde": "20.9", "smoothness": "0.91", "clip_sim": "0.82",
                 "speed": "—"}, DECODER_GROUP, from_full="teacher_forced"),
    AblationRow("Transformer (MotionCLIP's decoder)", {"model.decoder": "transformer"}, None,
                DECODER_GROUP),
)

DEFAULT_GRID = 6
TABLE6: tuple[AblationRow, ...] = tuple(
    AblationRow(f"{size} × {size}", {} if size == DEFAULT_GRID else {"grid.size": size},
                {"r1": r1, "clip_sim": sim, "ade": ade, "fde": fde},
                extra={"points": str(size ** 2)})
    for size, r1, sim, ade, fde in (
        (3, "28.4", "0.73", "16.8", "29.2"),
        (4, "31.2", "0.77", "14.1", "24.8"),
        (5, "33.1", "0.79", "13.2", "23.1"),
        (6, "34.2", "0.81", "12.4", "21.7"),
        (8, "33.8", "0.80", "12.6", "22.1"),
        (10, "33.5", "0.79", "12.9", "22.8"),
    )
)

COLOR_GROUP = "colour (opacity 0.5)"
OPACITY_GROUP = "opacity (cyan)"
DEFAULT_COLOR, DEFAULT_OPACITY = "cyan", 0.5
TABLE7: tuple[AblationRow, ...] = tuple(
    AblationRow(f"{color}, {DEFAULT_OPACITY}",
                {} if color == DEFAULT_COLOR else {"overlay.color": color},
                {"clip_sim": sim, "r1": r1}, COLOR_GROUP)
    for color, sim, r1 in (("cyan", "0.81", "34.2"), ("blue", "0.76", "30.5"),
                           ("white", "0.74", "29.1"), ("red", "0.73", "28.4"),
                           ("green", "0.71", "26.9"), ("yellow", "0.69", "25.7"),
                           ("black", "0.66", "23.8"))
) + tuple(
    AblationRow(f"{DEFAULT_COLOR}, {opacity}",
                {} if opacity == DEFAULT_OPACITY else {"overlay.opacity": opacity},
                {"clip_sim": sim, "r1": r1}, OPACITY_GROUP)
    for opacity, sim, r1 in ((0.3, "0.75", "30.8"), (0.5, "0.81", "34.2"),
                             (0.7, "0.78", "32.6"), (1.0, "0.72", "28.9"))
)

# Table 8: generation from other modalities (tables.json method keys)

TABLE8: tuple[tuple[str, PaperRow], ...] = (
    ("lang2motion", PaperRow("Text + mask (baseline)",
                             {"clip_sim": "0.81", "ade": "12.4", "smoothness": "0.89"})),
    ("image", PaperRow("Image + mask (no text)",
                       {"clip_sim": "0.76", "ade": "14.2", "smoothness": "0.85"})),
    ("overlay", PaperRow("Trajectory overlay only",
                         {"clip_sim": "0.72", "ade": "15.8", "smoothness": "0.82"})),
)
