"""Captions of the synthetic set: MeViS-style templates per motion kind, and noun phrases.

Templates come in two groups: the ``train`` split uses only ``train`` templates; the ``valid``
templates are never used in train. Every expression of another split is tagged with its
phrasing: ``seen`` (a train template, on held-out videos, objects and grids: does the model align
motion and text beyond the training videos?) or ``unseen`` (a valid-only template: language
generalisation, which needs a text encoder with real language knowledge). About half of each.
Legend: K objects.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lang2motion.data.mevis.layout import Expression
from lang2motion.data.synth.motion import MOTION_KINDS, choose

if TYPE_CHECKING:
    from lang2motion.data.synth.scenes import SceneObject

TRAIN_GROUP, VALID_GROUP = "train", "valid"
PHRASING_SEEN, PHRASING_UNSEEN = "seen", "unseen"
PHRASINGS = (PHRASING_SEEN, PHRASING_UNSEEN)

DIR_WORDS = {"left": "to the left", "right": "to the right", "up": "upwards",
             "down": "downwards", "up_left": "up and to the left",
             "up_right": "up and to the right", "down_left": "down and to the left",
             "down_right": "down and to the right", "cw": "clockwise",
             "ccw": "counter-clockwise", "": ""}
SHAPE_NOUNS = {"circle": ("ball", "circle", "disc"), "square": ("square", "box"),
               "triangle": ("triangle",), "star": ("star",), "diamond": ("diamond",),
               "hexagon": ("hexagon",), "cross": ("cross", "plus sign")}
PLURALS = {"box": "boxes", "cross": "crosses", "plus sign": "plus signs"}
SINGLE_PER_OBJECT = (2, 3)         # expressions per object in an evaluation split (inclusive)
# A training object gets every training template of its motion kind: more phrasings per
# trajectory for the text -> motion map to generalise from (measured gain in benchmarks/NOTES.md)
TRAIN_SINGLE_PER_OBJECT = (4, 4)
MULTI_PER_GROUP = (1, 2)
SHORT_NP_P = 0.3                   # "the triangle" instead of "the red triangle" when unique
PLURAL_COUNT_NP_P = 0.5            # "the two squares" instead of "the red and blue squares"

# -- caption templates ---------------------------------------------------------------------------
# {np} noun phrase; {dir} direction words; agreement: {s} {es} {its} {it} {is}. Every pattern
# reads for one object and for several. Per kind: (train patterns, valid-only patterns).
_TEMPLATE_TEXT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "moving_left": (
        ("{np} moving to the left", "{np} going left", "{np} that slide{s} towards the left",
         "{np} heading left"),
        ("{np} travelling to the left side", "{np} that make{s} {its} way leftwards")),
    "moving_right": (
        ("{np} moving to the right", "{np} going right",
         "{np} that slide{s} towards the right", "{np} heading right"),
        ("{np} travelling to the right side", "{np} that make{s} {its} way rightwards")),
    "moving_up": (
        ("{np} moving up", "{np} rising", "{np} that go{es} upwards", "{np} heading to the top"),
        ("{np} climbing towards the top of the frame", "{np} that travel{s} upward")),
    "moving_down": (
        ("{np} moving down", "{np} falling", "{np} that go{es} downwards",
         "{np} heading to the bottom"),
        ("{np} sinking towards the bottom of the frame", "{np} that descend{s}")),
    "moving_diagonally": (
        ("{np} moving diagonally {dir}", "{np} drifting {dir}",
         "{np} that go{es} {dir} at an angle", "{np} sliding diagonally {dir}"),
        ("{np} crossing the frame on a slant, {dir}", "{np} that travel{s} obliquely {dir}")),
    "circling_clockwise": (
        ("{np} circling clockwise", "{np} moving in a clockwise circle",
         "{np} that go{es} round and round clockwise", "{np} turning in circles clockwise"),
        ("{np} tracing a loop in the clockwise direction", "{np} that orbit{s} clockwise")),
    "circling_counterclockwise": (
        ("{np} circling counter-clockwise", "{np} moving in an anticlockwise circle",
         "{np} that go{es} round and round counter-clockwise",
         "{np} turning in circles anticlockwise"),
        ("{np} tracing a loop in the counter-clockwise direction",
         "{np} that orbit{s} anticlockwise")),
    "spinning": (
        ("{np} spinning in place", "{np} rotating {dir} on the spot",
         "{np} that turn{s} around without moving", "{np} spinning {dir}"),
        ("{np} twirling where {it} {is}", "{np} that whirl{s} around in one place")),
    "bouncing": (
        ("{np} bouncing {dir}", "{np} that bounce{s} along {dir}",
         "{np} dropping and bouncing {dir}", "{np} bouncing on the ground while moving {dir}"),
        ("{np} rebounding off the floor as {it} drift{s} {dir}",
         "{np} that keep{s} hitting the ground and bouncing back up, heading {dir}")),
    "jumping": (
        ("{np} jumping up and down", "{np} jumping in place", "{np} that leap{s} repeatedly",
         "{np} making small jumps"),
        ("{np} hopping on the spot", "{np} that spring{s} up again and again")),
    "zigzag": (
        ("{np} zig-zagging {dir}", "{np} moving in a zigzag {dir}",
         "{np} that weave{s} up and down while going {dir}",
         "{np} following a zigzag path {dir}"),
        ("{np} darting back and forth as {it} move{s} {dir}",
         "{np} that snake{s} {dir} in sharp turns")),
    "speeding_up": (
        ("{np} speeding up {dir}", "{np} accelerating {dir}",
         "{np} that move{s} {dir} faster and faster", "{np} moving {dir} and gaining speed"),
        ("{np} picking up pace while heading {dir}",
         "{np} that start{s} slowly {dir} and then rush{es}")),
    "slowing_down": (
        ("{np} slowing to a stop", "{np} that stop{s} after moving {dir}",
         "{np} moving {dir} and then stopping", "{np} slowing down while going {dir}"),
        ("{np} gradually coming to a halt after travelling {dir}",
         "{np} that decelerate{s} {dir} until {it} stand{s} still")),
    "approaching": (
        ("{np} coming closer", "{np} getting bigger", "{np} that approach{es} the camera",
         "{np} moving towards us"),
        ("{np} growing larger and larger", "{np} that draw{s} nearer to the viewer")),
    "receding": (
        ("{np} moving away", "{np} getting smaller", "{np} that shrink{s} into the distance",
         "{np} going away from the camera"),
        ("{np} receding from the viewer", "{np} that become{s} smaller and smaller")),
    "shaking": (
        ("{np} shaking", "{np} trembling", "{np} that jitter{s} in place",
         "{np} shaking from side to side"),
        ("{np} vibrating quickly", "{np} that wobble{s} back and forth on the spot")),
    "standing_still": (
        ("{np} standing still", "{np} not moving", "{np} that stay{s} in place",
         "{np} staying where {it} {is}"),
        ("{np} remaining motionless", "{np} that never move{s}")),
}
_AGREEMENT = {False: {"s": "s", "es": "es", "its": "its", "it": "it", "is": "is"},
              True: {"s": "", "es": "", "its": "their", "it": "they", "is": "are"}}
TOGETHER_SUFFIX = " together"


@dataclass(frozen=True)
class Template:
    template_id: int
    kind: str
    pattern: str
    group: str      # TRAIN_GROUP or VALID_GROUP


TEMPLATES = tuple(Template(i, *entry) for i, entry in enumerate(
    (kind, pattern, group) for kind in MOTION_KINDS
    for group, patterns in zip((TRAIN_GROUP, VALID_GROUP), _TEMPLATE_TEXT[kind], strict=True)
    for pattern in patterns))


def phrasing_sequence(rng: np.random.Generator, *, training: bool) -> Iterator[str | None]:
    """The phrasing of each next expression of a video: None in a training split; elsewhere
    alternately ``seen`` (a template train used, on held-out videos, objects and grids) and
    ``unseen`` (a template train never uses), from a random start: about half of each."""
    if training:
        return itertools.repeat(None)
    first = int(rng.integers(len(PHRASINGS)))
    return itertools.cycle(PHRASINGS[first:] + PHRASINGS[:first])


def _single_np(rng: np.random.Generator, obj: SceneObject, objects: list[SceneObject]) -> str:
    unique_shape = sum(o.shape == obj.shape for o in objects) == 1
    if unique_shape and rng.random() < SHORT_NP_P:
        return f"the {choose(rng, SHAPE_NOUNS[obj.shape])}"
    return f"the {obj.colour} {choose(rng, SHAPE_NOUNS[obj.shape])}"


def _group_np(rng: np.random.Generator, members: list[SceneObject]) -> str:
    shapes = {o.shape for o in members}
    if len(shapes) == 1:
        noun = choose(rng, SHAPE_NOUNS[members[0].shape])
        noun = PLURALS.get(noun, noun + "s")
        if len(members) == 2 and rng.random() < PLURAL_COUNT_NP_P:
            return f"the two {noun}"
        colours = [o.colour for o in members]
        return f"the {', '.join(colours[:-1])} and {colours[-1]} {noun}"
    parts = [f"the {o.colour} {choose(rng, SHAPE_NOUNS[o.shape])}" for o in members]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _caption(template: Template, np_text: str, direction: str, plural: bool) -> str:
    text = template.pattern.format(np=np_text, dir=DIR_WORDS[direction], **_AGREEMENT[plural])
    return " ".join(text.split())


def _pick_templates(rng: np.random.Generator, kind: str, phrasings: list[str | None],
                    seen_templates: frozenset[int] | None) -> list[tuple[Template, str | None]]:
    """A distinct template of ``kind`` for each phrasing: None -> a train template; ``seen`` ->
    one the training split used (``seen_templates``); ``unseen`` -> a valid-only template. A
    kind the training split never captioned has no seen template: its expression is unseen."""
    def shuffled(keep) -> list[Template]:
        options = [t for t in TEMPLATES if t.kind == kind and keep(t)]
        return [options[int(i)] for i in rng.permutation(len(options))]

    pools = {None: shuffled(lambda t: t.group == TRAIN_GROUP),
             PHRASING_SEEN: shuffled(lambda t: t.template_id in (seen_templates or ())),
             PHRASING_UNSEEN: shuffled(lambda t: t.group == VALID_GROUP)}
    picks = []
    for phrasing in phrasings:
        if phrasing == PHRASING_SEEN and not pools[PHRASING_SEEN]:
            phrasing = PHRASING_UNSEEN
        if pools[phrasing]:
            picks.append((pools[phrasing].pop(), phrasing))
    return picks


def expressions_for(rng: np.random.Generator, objects: list[SceneObject],
                    groups: list[list[int]], *, split: str,
                    seen_templates: frozenset[int] | None
                    ) -> list[tuple[Expression, dict[str, Any]]]:
    """Captions of one video: per object, then per group moving together. ``seen_templates``
    None: a training split; else an evaluation split (see :func:`phrasing_sequence`)."""
    out: list[tuple[Expression, dict[str, Any]]] = []
    phrasings = phrasing_sequence(rng, training=seen_templates is None)

    def emit(members: list[SceneObject], template: Template, phrasing: str | None,
             text: str) -> None:
        exp = Expression(str(len(out)), text, tuple(o.obj_id for o in members),
                         tuple(o.anno_id for o in members))
        kinds = [o.motion.kind for o in members]
        info = {"anno_ids": list(exp.anno_ids), "motion_kind": template.kind,
                "motion_kinds": kinds, "template_id": template.template_id,
                "template_group": template.group, "split": split,
                "multi": len(members) > 1, "direction": members[0].motion.direction}
        if phrasing is not None:
            info["phrasing"] = phrasing
        out.append((exp, info))

    for obj in objects:
        low, high = SINGLE_PER_OBJECT if seen_templates is not None else TRAIN_SINGLE_PER_OBJECT
        count = int(rng.integers(low, high + 1))
        picks = _pick_templates(rng, obj.motion.kind, list(itertools.islice(phrasings, count)),
                                seen_templates)
        for template, phrasing in picks:
            emit([obj], template, phrasing, _caption(template, _single_np(rng, obj, objects),
                                                     obj.motion.direction, plural=False))
    for group in groups:
        members = [objects[i] for i in group]
        kind = members[0].motion.kind
        count = int(rng.integers(MULTI_PER_GROUP[0], MULTI_PER_GROUP[1] + 1))
        picks = _pick_templates(rng, kind, list(itertools.islice(phrasings, count)),
                                seen_templates)
        for template, phrasing in picks:
            text = _caption(template, _group_np(rng, members), members[0].motion.direction,
                            plural=True)
            if kind != "standing_still":
                text += TOGETHER_SUFFIX
            emit(members, template, phrasing, text)
    return out

