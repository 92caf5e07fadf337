"""Tables 1, 2, 3 and 8 (and speed, motion-kind accuracy, per-slice views) from one tables.json.

Each function returns markdown lines: a heading, the table's notes (unit, split, protocol,
columns, stand-ins; :func:`lang2motion.report.setting.table_notes`), then the table, the paper's
numbers and this run's in separate columns. Nothing is computed but formatting and unit labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lang2motion.report import paper
from lang2motion.report.inputs import ALL_SLICE, dig
from lang2motion.report.markdown import (
    MS_DIGITS,
    NA,
    NOT_IN_PAPER,
    NOT_RUN,
    PERCENT,
    PERCENT_DIGITS,
    PIXEL_DIGITS,
    VALUE_DIGITS,
    bullets,
    code,
    fmt,
    fmt_stat,
    table,
)
from lang2motion.report.setting import SYNTH_SOURCE, RunInfo, slice_bullets, table_notes

PAPER, OURS = "paper", "this run"
ADE_NORM_UNIT = "normalised units: the frame spans [-1, 1], so 1 unit = 128 px of a 256 × 256 frame"
SMOOTH_UNIT = ("Δv in px of a 256 × 256 frame, and in normalised units, where every velocity "
               "change is tiny and the value sits near 1; 1 = constant velocity")
# our generation methods (tables.json keys): label, and whether it generates from text alone
GENERATORS: tuple[tuple[str, str], ...] = (
    ("static", "Static grid (our baseline: nothing moves)"),
    ("nearest_caption", "Nearest caption (our baseline: motion of the nearest training caption)"),
    ("mean_motion", "Mean motion (our baseline: mean training displacement per frame)"),
)
NOT_GENERATORS: tuple[tuple[str, str], ...] = (
    ("reconstruction", "Auto-encoder reconstruction (not a generator: encodes the true "
                       "trajectory)"),
    ("teacher_forced", "Teacher-forced decode (not a generator: fed the true previous "
                       "positions)"),
)
SLICE_METHODS = ("lang2motion", "static", "nearest_caption", "mean_motion")
METHOD_NAMES = {"lang2motion": "Lang2Motion", **{k: v.split(" (")[0] for k, v in GENERATORS},
                **{k: v.split(" (")[0] for k, v in NOT_GENERATORS},
                "image": "Image + mask", "overlay": "Overlay only"}


def slice_names(tables: Mapping[str, Any]) -> list[str]:
    """The tag slices (``phrasing=seen``, ...) in the order of ``tags``, then any others."""
    slices = tables.get("slices") or {}
    named = [f"{key}={value}" for key, values in (tables.get("tags") or {}).items()
             if isinstance(values, list) for value in values]
    others = [name for name in slices if name != ALL_SLICE and name not in named]
    return [name for name in named if name in slices] + others


def _gen(tables: Mapping[str, Any], method: str, metric: str, slice_name: str = ALL_SLICE) -> Any:
    return dig(tables, "slices", slice_name, "generation", method, metric)


def _ret(tables: Mapping[str, Any], method: str, metric: str, slice_name: str = ALL_SLICE) -> Any:
    return dig(tables, "slices", slice_name, "retrieval", method, metric)


def _pct(stat: Any) -> str:
    return fmt_stat(stat, PERCENT_DIGITS, scale=PERCENT)


def _val(stat: Any) -> str:
    return fmt_stat(stat, VALUE_DIGITS)


def _px(stat: Any) -> str:
    return fmt_stat(stat, PIXEL_DIGITS)


# ---------------------------------------------------------------------------------------------
# Table 1


def table1(tables: Mapping[str, Any], info: RunInfo) -> list[str]:
    ks = [f"r{k}" for k in paper.RETRIEVAL_KS]
    headers = ["Method", "Type"]
    for k in paper.RETRIEVAL_KS:
        headers += [f"R@{k} {PAPER}", f"R@{k} {OURS}"]
    rows = []
    for row in paper.TABLE1:
        method = paper.TABLE1_METHODS.get(row.label)
        cells = [row.label, row.kind]
        for key in ks:
            ours = NOT_RUN if method is None else _pct(_ret(tables, method, key))
            cells += [row.values[key], ours]
        rows.append(cells)
    chance = (f"1 / {info.trajectories} = {100 / info.trajectories:.1f}%"
              if info.trajectories else NA)
    lines = ["## Table 1: text-to-trajectory retrieval", ""]
    lines += table_notes(info, unit="Recall@K in percent of expressions (higher is better)",
                         protocol=("every valid expression ranks all unique valid trajectories "
                                   "(one per track row; expressions sharing a trajectory share "
                                   "its target) by cosine(CLIP text embedding, encoder latent z); "
                                   "a hit when its own trajectory is within the top K. CLIP NN "
                                   "ranks by cosine(text embedding, time-pooled CLIP embedding of "
                                   "the trajectory's overlays); Random is the exact expectation "
                                   f"(this run's R@1 chance: {chance}; the paper's: about 15 "
                                   "expressions per video)"),
                         extra=["CLIP4Clip and X-CLIP (video-based) are the paper's baselines; "
                                "we did not run them."])
    lines += ["", *table(headers, rows, ["l", "l"] + ["r"] * (len(headers) - 2))]
    names = slice_names(tables)
    if names:
        lines += ["", "### Table 1 by slice (this run only; the paper has no such split)", ""]
        lines += slice_bullets(names, info)
        rows = []
        for name in names:
            n = dig(tables, "slices", name, "n")
            for method, label in (("lang2motion", "Lang2Motion"), ("clip_nn", "CLIP NN"),
                                  ("random", "Random")):
                rows.append([name, n if n is not None else NA, label,
                             *(_pct(_ret(tables, method, key, name)) for key in ks)])
        lines += ["", *table(["Slice", "Expressions", "Method",
                              *(f"R@{k} {OURS}" for k in paper.RETRIEVAL_KS)], rows,
                             ["l", "r", "l", "r", "r", "r", "r"])]
    return lines


# ---------------------------------------------------------------------------------------------
# Table 2


def _table2_rows(tables: Mapping[str, Any], metrics: tuple[tuple[str, str, Any], ...]
                 ) -> list[list[str]]:
    """Rows of one half of Table 2: ``metrics`` are (paper key or "", our key, formatter)."""
    papers = {row.label: row for row in paper.TABLE2}

    def ours(method: str) -> list[str]:
        cells = []
        for paper_key, key, formatter in metrics:
            if paper_key:
                cells.append(papers["Lang2Motion"].values[paper_key] if method == "lang2motion"
                             else NOT_IN_PAPER)
            cells.append(formatter(_gen(tables, method, key)))
        return cells

    rows = [["Lang2Motion", *ours("lang2motion")]]
    for row in paper.TABLE2:
        if row.label == "Lang2Motion":
            continue
        cells = []
        for paper_key, _, _ in metrics:
            if paper_key:
                cells.append(row.values[paper_key])
            cells.append(NOT_RUN)
        rows.append([f"{row.label} (paper only: {row.kind})", *cells])
    for method, label in GENERATORS + NOT_GENERATORS:
        rows.append([label, *ours(method)])
    return rows


def table2(tables: Mapping[str, Any], info: RunInfo) -> list[str]:
    clip_n = dig(tables, "clip_similarity", "samples")
    clip_of = dig(tables, "clip_similarity", "of")
    lines = ["## Table 2: trajectory generation quality and efficiency", ""]
    lines += table_notes(
        info, unit=("AJ, OA: TAP-Vid scores in [0, 1]; CLIP sim: cosine in [-1, 1]; smoothness: "
                    f"1 - mean ||Δv|| ({SMOOTH_UNIT}); ADE, FDE: "
                    f"{ADE_NORM_UNIT} (px). The paper does not state its ADE/FDE unit"),
        protocol=("from each valid expression's text and the initial grid of its object mask, "
                  "decode 30 frames; compare with the tracked ground truth over frames 1..T-1 "
                  "(frame 0 is given). AJ/OA: every point queried at frame 0, generated points "
                  "always visible (so OA describes the ground truth's visibility). CLIP sim: "
                  "cosine between the encoder latent of the generated trajectory and the CLIP "
                  "text embedding of its caption"
                  + (f", on {clip_n} of {clip_of} expressions" if clip_n is not None else "")),
        extra=["The paper's VLM rows (Gemini Veo3, Sora 2.0) appear only in the paper's columns; "
               "our baselines and the two rows that are not generators only in this run's."])
    half_a = (("aj", "aj", _val), ("oa", "oa", _val), ("clip_sim", "clip_sim", _val),
              ("smoothness", "smoothness_px", _val), ("", "smoothness", _val))
    half_b = (("ade", "ade_px", _px), ("", "ade", _val), ("fde", "fde_px", _px),
              ("", "fde", _val))
    lines += ["", "**Table 2a: motion quality and alignment**", ""]
    lines += table(["Method", f"AJ {PAPER}", f"AJ {OURS}", f"OA {PAPER}", f"OA {OURS}",
                    f"CLIP sim {PAPER}", f"CLIP sim {OURS}", f"Smooth {PAPER}",
                    f"Smooth {OURS} (px)", f"Smooth {OURS} (normalised)"],
                   _table2_rows(tables, half_a), ["l"] + ["r"] * 9)
    lines += ["", "**Table 2b: displacement errors (lower is better)**", ""]
    lines += table(["Method", f"ADE {PAPER} ({paper.ADE_UNIT})", f"ADE {OURS} (px)",
                    f"ADE {OURS} (normalised)", f"FDE {PAPER} ({paper.ADE_UNIT})",
                    f"FDE {OURS} (px)", f"FDE {OURS} (normalised)"],
                   _table2_rows(tables, half_b), ["l"] + ["r"] * 6)
    lines += ["", *motion_kinds(tables, info), "", *speed(tables, info)]
    names = slice_names(tables)
    if names:
        lines += ["", "### Table 2 by slice (this run only; the paper has no such split)", "",
                  *slice_bullets(names, info), ""]
        rows = []
        for name in names:
            n = dig(tables, "slices", name, "n")
            for method in SLICE_METHODS:
                if dig(tables, "slices", name, "generation", method) is None:
                    continue
                rows.append([name, n if n is not None else NA, METHOD_NAMES[method],
                             *(f(_gen(tables, method, key, name)) for key, f in (
                                 ("aj", _val), ("oa", _val), ("ade", _val), ("ade_px", _px),
                                 ("fde", _val), ("clip_sim", _val), ("smoothness_px", _val),
                                 ("smoothness", _val)))])
        lines += table(["Slice", "Expressions", "Method", "AJ", "OA", "ADE (normalised)",
                        "ADE (px)", "FDE (normalised)", "CLIP sim", "Smooth (px)",
                        "Smooth (normalised)"], rows, ["l", "r", "l"] + ["r"] * 8)
    return lines


def motion_kinds(tables: Mapping[str, Any], info: RunInfo) -> list[str]:
    """Motion-kind accuracy of the generated trajectories, per slice, with chance."""
    columns = [ALL_SLICE, *slice_names(tables)]
    methods = [m for m in ("lang2motion", *(k for k, _ in GENERATORS + NOT_GENERATORS),
                           "image", "overlay")
               if any(_gen(tables, m, "motion_kind_acc", c) is not None for c in columns)]
    lines = ["### Motion-kind accuracy (beside Table 2; the paper has no such number)", ""]
    if not methods:
        return lines + [f"{NA}: this data has no motion-kind labels (real data)."]
    lines += bullets([
        "**Unit:** percent of expressions whose generated trajectory is classified as the "
        "motion kind of its caption (labelled data, such as the synthetic set's exact "
        "labels)",
        f"**Data split:** {code(info.split)}, all expressions and per slice; chance as the "
        "evaluation reports it per slice",
        f"**Columns:** this run only; {info.percent_level} bootstrap intervals",
    ]) + slice_bullets(columns[1:], info)
    rows = [[METHOD_NAMES.get(m, m), *(_pct(_gen(tables, m, "motion_kind_acc", c))
                                       for c in columns)] for m in methods]
    rows.append(["Chance", *(fmt(dig(tables, "slices", c, "motion_kind_chance"),
                                 PERCENT_DIGITS, scale=PERCENT) for c in columns)])
    return lines + ["", *table(["Method", *columns], rows,
                               ["l"] + ["r"] * len(columns))]


def speed(tables: Mapping[str, Any], info: RunInfo) -> list[str]:
    """Timings of this run beside the paper's 0.7 s per trajectory."""
    s = tables.get("speed") or {}
    device = f"{s.get('device', '?')}, {s.get('threads', '?')} threads"
    batch = s.get("batch")

    def ms(p50: str, p95: str) -> str:
        return (NA if s.get(p50) is None
                else f"{fmt(s.get(p50), MS_DIGITS)} ms (p95 {fmt(s.get(p95), MS_DIGITS)} ms)")

    rows = [
        ["batch 1, decode only (text embedding given), median", NOT_IN_PAPER,
         ms("batch1_ms_p50", "batch1_ms_p95")],
        ["batch 1, with CLIP text encoding, median", f"{paper.PAPER_SPEED} (hardware not stated)",
         ms("batch1_with_text_ms_p50", "batch1_with_text_ms_p95")],
        [f"batched throughput (batch {batch if batch is not None else '?'})", NOT_IN_PAPER,
         NA if s.get("batched_per_s") is None
         else f"{fmt(s.get('batched_per_s'), 0)} trajectories / s"],
    ]
    return ["### Speed (Table 2's last column)", "",
            *bullets([f"**Unit:** wall time per generated trajectory; device: {device}",
                      "**Protocol:** repeated calls after warm-up; median (p50) and p95; "
                      "timings have no bootstrap interval",
                      f"**Columns:** {info.columns_text()}"]),
            "", *table(["Measure", PAPER, OURS], rows, ["l", "r", "r"])]


# ---------------------------------------------------------------------------------------------
# Table 3


def table3(tables: Mapping[str, Any], info: RunInfo) -> list[str]:
    rec = tables.get("recognition")
    rows = [[row.label, row.kind, row.values["top1"], row.values["top5"], NOT_RUN, NOT_RUN]
            for row in paper.TABLE3]
    if isinstance(rec, Mapping):
        classes = rec.get("classes") or []
        kinds = "synthetic motion kinds" if info.data_source == SYNTH_SOURCE else "motion kinds"
        dataset = f"{kinds} ({len(classes)} classes, {rec.get('n', '?')} trajectories)"
        rows.append(["Lang2Motion (this run)", dataset, NOT_IN_PAPER, NOT_IN_PAPER,
                     _pct(rec.get("top1")), _pct(rec.get("top5"))])
        rows.append(["Chance (this run)", dataset, NOT_IN_PAPER, NOT_IN_PAPER,
                     fmt(rec.get("chance_top1"), PERCENT_DIGITS, scale=PERCENT),
                     fmt(rec.get("chance_top5"), PERCENT_DIGITS, scale=PERCENT)])
        split = f"{code(info.split)}: {rec.get('n', '?')} trajectories (the paper: NTU, Kinetics)"
    else:
        rows.append(["Lang2Motion (this run)", "no motion-kind labels in this data",
                     NOT_IN_PAPER, NOT_IN_PAPER, NA, NA])
        split = f"{code(info.split)} (no class labels: recognition not evaluated)"
    lines = ["## Table 3: zero-shot action recognition", ""]
    lines += table_notes(
        info, unit="top-1 / top-5 accuracy in percent (higher is better)", split=split,
        protocol=("zero-shot: each trajectory's latent z is compared with the CLIP text "
                  "embeddings of the class names; a hit when the true class is ranked first "
                  "(top-1) or within the first five (top-5). Ours uses the data's motion "
                  "kinds as classes; the paper uses skeleton sequences"),
        extra=["The paper's rows (NTU RGB+D, Kinetics-Skeleton) are skeleton benchmarks we did "
               "not run. To run ours on NTU RGB+D or Kinetics-Skeleton files: "
               f"{code(paper.RECOGNIZE_COMMAND)}."])
    return lines + ["", *table(["Method", "Dataset", f"Top-1 {PAPER}", f"Top-5 {PAPER}",
                                f"Top-1 {OURS}", f"Top-5 {OURS}"], rows,
                               ["l", "l", "r", "r", "r", "r"])]


# ---------------------------------------------------------------------------------------------
# Table 8


def table8(tables: Mapping[str, Any], info: RunInfo) -> list[str]:
    rows = []
    for method, row in paper.TABLE8:
        rows.append([row.label, row.values["clip_sim"], _val(_gen(tables, method, "clip_sim")),
                     row.values["ade"], _val(_gen(tables, method, "ade")),
                     _px(_gen(tables, method, "ade_px")), row.values["smoothness"],
                     _val(_gen(tables, method, "smoothness_px")),
                     _val(_gen(tables, method, "smoothness")), _val(_gen(tables, method, "fde"))])
    lines = ["## Table 8: generation from other modalities", ""]
    lines += table_notes(
        info, unit=(f"CLIP sim: cosine; ADE, FDE: {ADE_NORM_UNIT} (px); smoothness: 1 - mean "
                    f"||Δv|| ({SMOOTH_UNIT}). The paper's Table 8 has no FDE column"),
        protocol=("the decoder starts from the same initial grid; the condition differs. Text + "
                  "mask: the caption's CLIP text embedding (Table 2's Lang2Motion row). Image + "
                  "mask: the CLIP image embedding of the window's first frame, no text. Overlay "
                  "only: the time-pooled CLIP embedding of the true trajectory's overlays (it "
                  "sees the truth drawn on the frames)"))
    return lines + ["", *table(["Input modality", f"CLIP sim {PAPER}", f"CLIP sim {OURS}",
                                f"ADE {PAPER} ({paper.ADE_UNIT})", f"ADE {OURS} (normalised)",
                                f"ADE {OURS} (px)", f"Smooth {PAPER}", f"Smooth {OURS} (px)",
                                f"Smooth {OURS} (normalised)", f"FDE {OURS} (normalised)"],
                                rows, ["l"] + ["r"] * 9)]
