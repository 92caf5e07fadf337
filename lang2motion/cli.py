"""The `lang2motion` command: what researchers do with a trained model (`dvc repro` trains one;
README "Use a trained model" shows every verb). Verbs parse and check their arguments, call
lang2motion.apps, print the result and return it (``--json`` prints it as JSON).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lang2motion.config import OVERLAY_COLORS, DataConfig, FolderConfig
from lang2motion.entry import add_debug_flag, run_with_error_contract, setup_logging
from lang2motion.errors import DataError

DEFAULT_MODEL_DIR = "models"
DEFAULT_OUT_DIR = "generated"
DEFAULT_EXPERIMENTS = "reports/experiments.json"     # the report stage's dependency (dvc.yaml)


def _load(args: argparse.Namespace):
    from lang2motion.trained_model import Lang2MotionModel

    return Lang2MotionModel.load(args.model, device=args.device, clip_model=args.clip_model,
                                 clip_pretrained=args.clip_pretrained)


def argument_type(convert: Callable[[str], Any], accept: Callable[[Any], bool], *,
                  expected: str, rule: str) -> Callable[[str], Any]:   # an argparse type
    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value
    return parse


SEED_RANGE = (0, 2**32 - 1)          # numpy's legacy seed range (torch's is wider)
positive_int = argument_type(int, lambda v: v >= 1, expected="a whole number >= 1", rule=">= 1")
nonnegative_int = argument_type(int, lambda v: v >= 0, expected="a whole number >= 0",
                                rule=">= 0")
positive_float = argument_type(float, lambda v: math.isfinite(v) and v > 0,
                               expected="a number > 0", rule="a finite number > 0")
seed_value = argument_type(int, lambda v: SEED_RANGE[0] <= v <= SEED_RANGE[1],
                           expected="a whole number",
                           rule=f"from {SEED_RANGE[0]} to {SEED_RANGE[1]} (numpy's seed range)")


def _points(args: argparse.Namespace) -> int:   # the grid points, from model.json (fast)
    from lang2motion.model.checkpoint import read_model_meta

    config = read_model_meta(args.model).get("model_config") or {}
    return int(config.get("points", 1))


def _style(args: argparse.Namespace):
    from lang2motion.apps.outputs import Style

    return Style(color=args.color, format=args.format)


def cmd_generate(args: argparse.Namespace) -> Any:
    from lang2motion.apps import generate

    if args.seed is not None:
        import numpy as np
        import torch

        torch.manual_seed(args.seed)
        np.random.seed(args.seed)
    request = generate.plan(
        prompts=generate.read_prompts(args.prompts, args.prompts_file), image=args.image,
        mask=args.mask, box=args.box, points=args.point, sam_checkpoint=args.sam_checkpoint,
        sam_kind=args.sam_kind, size=tuple(args.size), out_dir=args.out, style=_style(args),
        overwrite=args.overwrite, from_image=args.from_image, from_overlay=args.from_overlay,
        device=args.device, grid_points=_points(args))
    model = _load(args)
    written = generate.generate_and_write(model, request)
    for item in written:
        print(f"{item['label']!r}: {item['trajectory']}, {item['animation']}, {item['still']}")
    print(f"region: {request.region} (saved as <name>.mask.png)")
    return written


def cmd_retrieve(args: argparse.Namespace) -> Any:
    from lang2motion.apps import retrieve

    model = _load(args)
    results, paths = retrieve.retrieve_and_write(model, args.text, args.source, k=args.k,
                                                 out_dir=args.out, style=_style(args),
                                                 overwrite=args.overwrite)
    for item in results:
        print(f"{item['rank']:3d}  {item['score']:+.3f}  {item['id']}  {item['label']}")
    print(f"contact sheet: {paths['sheet']}; ranking: {paths['ranking']}")
    return results


def cmd_interpolate(args: argparse.Namespace) -> Any:
    from lang2motion.apps import interpolate
    from lang2motion.images import read_mask
    from lang2motion.trained_model import check_steps

    check_steps(args.steps)                  # before the model loads
    mask = read_mask(args.mask) if args.mask else None
    model = _load(args)
    result = interpolate.interpolate_and_write(model, args.a, args.b, steps=args.steps,
                                               mask=mask, out_dir=args.out, style=_style(args),
                                               overwrite=args.overwrite)
    print(f"{result['steps']} steps from {result['from']!r} to {result['to']!r}: "
          f"{result['strip']}, {result['animation']}")
    return result


def cmd_edit(args: argparse.Namespace) -> Any:
    from lang2motion.apps import generate

    model = _load(args)
    result = generate.edit_and_write(model, args.trajectory, source_text=args.source_text,
                                     target_text=args.target_text, image=args.image,
                                     out_dir=args.out, style=_style(args),
                                     overwrite=args.overwrite)
    print(f"{result['label']}: {result['trajectory']}, {result['animation']}")
    return result


def cmd_classify(args: argparse.Namespace) -> Any:
    from lang2motion.apps import classify

    classes = classify.class_list(args.classes, args.classes_file)
    model = _load(args)
    results = classify.classify(model, args.inputs, classes, k=args.k)
    for item in results:
        labels = ", ".join(f"{name} ({score:+.3f})" for name, score in item["classes"])
        print(f"{Path(item['file']).name}: {labels}")
    return results


def cmd_recognize(args: argparse.Namespace) -> Any:
    from lang2motion.apps import classify

    classes = classify.class_list(args.classes, args.classes_file)
    classify.check_save_path(args.save)      # before the model loads
    model = _load(args)
    result = classify.recognize(model, args.folder, classes, k=args.k, out=args.save)
    for item in result["predictions"]:
        print(f"{item['file']}: {item['top'][0][0]} (true: {item['true'] or 'unknown'})")
    if "top1" in result:
        print(f"{result['labelled']} labelled files: top-1 {result['top1']:.1%} (chance "
              f"{result['chance_top1']:.1%}), top-5 {result['top5']:.1%} (chance "
              f"{result['chance_top5']:.1%})")
    return result


def cmd_ablations(args: argparse.Namespace) -> None:
    from lang2motion.report.experiments import dvc, exp_command
    from lang2motion.report.paper import TABLE4, TABLE5, TABLE6, TABLE7

    unique: dict[tuple, dict[str, Any]] = {}
    for row in (*TABLE4, *TABLE5, *TABLE6, *TABLE7):
        if row.overrides:
            unique.setdefault(tuple(sorted(row.overrides.items())), row.overrides)
    commands = [exp_command(o) for o in unique.values()]
    if not args.queue:
        print("\n".join(commands))
        return
    for command in commands:    # `dvc exp run -S ...`: the same with --queue
        words = command.split()
        dvc(*words[1:3], "--queue", *words[3:])
    print(f"queued {len(commands)} experiments; run them with `dvc queue start`, follow with "
          "`dvc queue status`, then rebuild the report: `make report`")


def cmd_report(args: argparse.Namespace) -> None:
    from lang2motion.report.experiments import dvc, refresh

    experiments = refresh(args.experiments)
    print(f"{args.experiments}: {len(experiments['runs'])} committed run(s) from `dvc exp show`"
          + (f"; skipped: {'; '.join(experiments['skipped'])}" if experiments["skipped"] else ""))
    dvc("repro", args.stage, capture=False)


def cmd_import(args: argparse.Namespace) -> None:
    from lang2motion.data.folder.importer import import_to_folder
    from lang2motion.errors import ConfigError

    if args.train_split == args.valid_split:
        raise ConfigError(f"--train-split and --valid-split are both {args.train_split!r}; "
                          "they must name different splits")
    summary = import_to_folder(args.manifest, out_dir=args.out,
                               split_names={"train": args.train_split,
                                            "valid": args.valid_split},
                               frames=args.frames, fps=args.fps, max_side=args.max_side,
                               sam_checkpoint=args.sam_checkpoint)
    videos = ", ".join(f"{n} {split}" for split, n in summary["videos"].items())
    print(f"{args.out}: {videos} videos from {summary['clips']} clips of {summary['manifest']}"
          f"; {len(summary['skipped_clips'])} skipped (see {args.out}/import_summary.json). "
          f"Train on it: dvc exp run -S data.source=mevis -S data.mevis.root={args.out}"
          f" -S data.train_split={args.train_split} -S data.valid_split={args.valid_split}")


def cmd_demo(args: argparse.Namespace) -> None:
    from lang2motion.apps import demo

    demo.require_gradio()          # says which extra to install before the slow model load
    model = _load(args)
    demo.serve_model(model, data_dir=args.data, host=args.host, port=args.port,
                     share=args.share, sam_checkpoint=args.sam_checkpoint, device=args.device)


def cmd_info(args: argparse.Namespace) -> None:
    from lang2motion.model.checkpoint import read_model_meta

    meta = read_model_meta(args.model)
    print(json.dumps({k: meta[k] for k in meta if k != "save_id"}, indent=2))


def _model_options(parser: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
    parser.add_argument("--model", default=DEFAULT_MODEL_DIR,
                        help=f"checkpoint folder (default: {DEFAULT_MODEL_DIR}/)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--clip-model", help="override the CLIP the checkpoint records")
    parser.add_argument("--clip-pretrained", help="override the CLIP weights it records")
    if json_flag:
        parser.add_argument("--json", action="store_true",
                            help="also print the result as JSON")


def _class_options(parser: argparse.ArgumentParser, order: str) -> None:
    parser.add_argument("--classes", nargs="*", default=[], help="class names")
    parser.add_argument("--classes-file", help=f"a file of class names, one per line{order}")


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=DEFAULT_OUT_DIR,
                        help=f"output folder (default: {DEFAULT_OUT_DIR}/)")
    parser.add_argument("--format", default="gif", choices=("gif", "mp4"),
                        help="animation format (default: gif, plays on GitHub and in browsers)")
    parser.add_argument("--color", default="cyan", choices=tuple(OVERLAY_COLORS),
                        help="trail colour (default: cyan)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace earlier results of the same name")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lang2motion", description="Use a trained Lang2Motion model: generate point "
        "trajectories from text, retrieve, interpolate, edit and classify them. Train one with "
        "`dvc repro` (the checkpoint lands in models/).",
        epilog="Errors print one paragraph; add --debug (or set LANG2MOTION_DEBUG=1) for the "
               "traceback.")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    gen = sub.add_parser(
        "generate", help="text (or an image, or an overlay) -> trajectory, animation, still",
        description="Decode each prompt from an initial grid placed inside the object's region. "
        "Writes <out>/<prompt words>-<hash>.json (tracks in pixels and in [-1, 1]), .gif or "
        ".mp4 (the trails growing), .png (the full trails) and .mask.png (the region used).")
    gen.add_argument("prompts", nargs="*", help="prompts, all decoded in one batched call")
    gen.add_argument("--prompts", dest="prompts_file", metavar="FILE",
                     help="a file of prompts, one per line (added to those given)")
    region = gen.add_argument_group("the object's region (one of; default: a centred disc)")
    region.add_argument("--mask", help="first-frame object mask (PNG, > 127 = object)")
    region.add_argument("--box", metavar="X0,Y0,X1,Y1", help="a box in pixels of --image: "
                        "through SAM when --sam-checkpoint is given, else the rectangle")
    region.add_argument("--point", action="append", default=[], metavar="X,Y",
                        help="a click on the object (repeatable); needs SAM")
    region.add_argument("--image", help="the first frame: drawn behind the trails, and what "
                        "SAM segments")
    region.add_argument("--sam-checkpoint", metavar="FILE", help="a segment-anything "
                        "checkpoint (or set LANG2MOTION_SAM_CHECKPOINT); pip install "
                        "-e \".[sam]\"")
    region.add_argument("--sam-kind", metavar="KIND", help="the checkpoint's architecture: "
                        "vit_b, vit_l or vit_h (default: read from the file name, as in "
                        "sam_vit_b_01ec64.pth)")
    region.add_argument("--size", nargs=2, type=int, default=[256, 256], metavar=("W", "H"),
                        help="canvas size without --image or --mask (default 256 256)")
    cond = gen.add_argument_group("other conditions (paper Table 8)")
    cond.add_argument("--from-image", action="store_true",
                      help="decode the CLIP image embedding of --image instead of text")
    cond.add_argument("--from-overlay", metavar="TRAJECTORY.json",
                      help="decode the pooled CLIP embedding of this trajectory's overlays")
    gen.add_argument("--seed", type=seed_value, help="seed torch and numpy (decoding itself is "
                     "deterministic)")
    _output_options(gen)
    _model_options(gen)

    ret = sub.add_parser("retrieve", help="rank trajectories by similarity to a text",
                         description="Rank the trajectories of a split's feature shards, or of a "
                         "folder of trajectory files, by cosine(text embedding, latent); print "
                         "the top k and write a contact sheet of them.")
    ret.add_argument("text")
    ret.add_argument("--source", default="data/features/valid_u",
                     help="feature-shard folder or folder of trajectory .json files "
                          "(default: data/features/valid_u)")
    ret.add_argument("--k", type=positive_int, default=8, help="how many to show (default 8)")
    _output_options(ret)
    _model_options(ret)

    itp = sub.add_parser("interpolate", help="decode along the path between two embeddings",
                         description="Spherical interpolation between two prompts, two "
                         "trajectory files, or one of each, decoded from the same grid.")
    itp.add_argument("a", help="a prompt or a trajectory .json")
    itp.add_argument("b", help="a prompt or a trajectory .json")
    itp.add_argument("--steps", type=int, default=5, help="trajectories including both ends")
    itp.add_argument("--mask", help="object mask PNG for the grid (default: a centred disc, "
                     "or the first trajectory's own grid size)")
    _output_options(itp)
    _model_options(itp)

    edt = sub.add_parser("edit", help="latent arithmetic: z + text(to) - text(from)",
                         description="Edit a trajectory with MotionCLIP's latent arithmetic, "
                         "decoded from its own first frame.")
    edt.add_argument("trajectory", help="a trajectory .json (e.g. from generate)")
    edt.add_argument("--from", dest="source_text", required=True, help="what it does now")
    edt.add_argument("--to", dest="target_text", required=True, help="what it should do")
    edt.add_argument("--image", help="the frame its overlays are drawn on (default: a canvas)")
    _output_options(edt)
    _model_options(edt)

    cls = sub.add_parser("classify", help="zero-shot labels for trajectory files",
                         description="Label trajectories with the class names whose CLIP text "
                         "embeddings are closest to their latents.")
    cls.add_argument("inputs", nargs="+", help="trajectory .json files or folders of them")
    _class_options(cls, "")
    cls.add_argument("--k", type=positive_int, default=3, help="labels per trajectory (default 3)")
    _model_options(cls)

    rec = sub.add_parser("recognize", help="zero-shot action recognition of skeleton files",
                         description="Classify every NTU RGB+D (.skeleton) or Kinetics-skeleton "
                         "(.json) file of a folder against a class list; with labelled files, "
                         "print top-1 and top-5 accuracy (paper Table 3).")
    rec.add_argument("folder")
    _class_options(rec, ", in the data set's label order (NTU-60: "
                   "lang2motion/data/classes/ntu60.txt)")
    rec.add_argument("--k", type=positive_int, default=5, help="labels per file (default 5)")
    rec.add_argument("--save", metavar="FILE.json", help="write the result as JSON")
    _model_options(rec)

    dem = sub.add_parser("demo", help="a local web page to play with the model (Gradio)",
                         description="Serve a page on this machine: pick an example frame or "
                         "upload one, click the object, type prompts and watch the trails; "
                         "retrieve, interpolate and edit. Needs the demo extra: pip install "
                         "-e \".[demo]\". Stop it with Ctrl-C.")
    dem.add_argument("--data", default="data", help="the pipeline's data folder: example "
                     "frames from <data>/raw/<valid split>, retrieval over "
                     "<data>/features/<valid split> (default: data/)")
    dem.add_argument("--host", default="127.0.0.1", help="address to listen on (default "
                     "127.0.0.1: this machine only; 0.0.0.0 opens it to the network)")
    dem.add_argument("--port", type=positive_int, default=7860, help="port (default 7860)")
    dem.add_argument("--share", action="store_true", help="also ask Gradio for a public "
                     "*.gradio.live link (needs the network)")
    dem.add_argument("--sam-checkpoint", metavar="FILE", help="a segment-anything checkpoint: "
                     "clicks and boxes on uploaded frames go through SAM (or set "
                     "LANG2MOTION_SAM_CHECKPOINT); pip install -e \".[sam]\"")
    _model_options(dem, json_flag=False)

    abl = sub.add_parser("ablations", help="the dvc exp run commands of paper Tables 4-7")
    abl.add_argument("--queue", action="store_true", help="queue them (dvc exp run --queue)")

    rep = sub.add_parser("report", help="dvc exp show -> reports/experiments.json, then "
                         "dvc repro report (reports/report.md)",
                         description="Read the experiments with `dvc exp show --json` (outside "
                         "the DVC lock), write them to the report stage's experiments file, "
                         "then `dvc repro` the report stage, which fills the ablation tables "
                         "from them. Run from the repository root.")
    rep.add_argument("--experiments", default=DEFAULT_EXPERIMENTS,
                     help=f"the report stage's experiments file (default {DEFAULT_EXPERIMENTS})")
    rep.add_argument("--stage", default="report", help="the stage to reproduce (default report)")

    defaults = FolderConfig()
    imp = sub.add_parser("import", help="a folder of your own clips (manifest) -> MeViS layout",
                         description="Import the clips listed in a manifest (clips.jsonl or "
                         "clips.csv; README 'Train on your own videos') into train and valid "
                         "splits in MeViS layout, as `dvc repro` does with data.source=folder.")
    imp.add_argument("manifest", help="a folder holding clips.jsonl or clips.csv, or the file")
    imp.add_argument("--out", required=True, help="a new folder for the splits")
    imp.add_argument("--frames", type=positive_int, default=DataConfig().frames,
                     help="clips shorter than this after resampling are skipped (data.frames)")
    imp.add_argument("--fps", type=positive_float, default=defaults.fps,
                     help=f"frame rate to resample to (default {defaults.fps:g})")
    imp.add_argument("--max-side", type=nonnegative_int, default=defaults.max_side,
                     help=f"long side in pixels, 0 = keep (default {defaults.max_side})")
    imp.add_argument("--sam-checkpoint", default=defaults.sam_checkpoint, metavar="FILE",
                     help="segment-anything weights for boxes and clicks (default: none, or "
                          "$LANG2MOTION_SAM_CHECKPOINT)")
    imp.add_argument("--train-split", default=DataConfig().train_split)
    imp.add_argument("--valid-split", default=DataConfig().valid_split)

    info = sub.add_parser("info", help="print a checkpoint's config, params and metrics")
    info.add_argument("--model", default=DEFAULT_MODEL_DIR)
    for name, verb in sub.choices.items():       # verb `x` runs cmd_x
        add_debug_flag(verb)
        verb.set_defaults(func=globals()[f"cmd_{name}"])
    return parser


def main(argv: list[str] | None = None) -> int:
    def dispatch(arguments: list[str] | None) -> None:
        args = build_parser().parse_args(arguments)
        setup_logging(logging.WARNING)   # warnings only: e.g. random CLIP weights, long prompts
        try:
            result = args.func(args)        # a verb's result, printed as JSON on --json
            if getattr(args, "json", False):
                print(json.dumps(result, indent=2))
        except BrokenPipeError:
            # the reader went away (`lang2motion ablations | head`): nothing more to say
            sys.stdout = open(os.devnull, "w")   # noqa: SIM115 - keeps the exit flush quiet
        except OSError as exc:
            # the disk, not the code: a read-only folder, a full disk, a file in the way
            raise DataError(f"{exc.filename or 'a file'}: {exc.strerror or exc}") from exc

    return run_with_error_contract("lang2motion", dispatch, argv)


if __name__ == "__main__":
    sys.exit(main())
