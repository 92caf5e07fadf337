"""`lang2motion demo`: a local Gradio page (Generate, Retrieve, Interpolate / Edit) on one
checkpoint. Every result comes from the verbs' own code, written to a temporary folder offered
for download. :class:`Demo` holds the logic without gradio (tested without a browser);
:func:`build_app` lays out the page. A click on an example frame picks the data set's annotated
object under it; on an upload clicks go through SAM when available; a box works everywhere.
Legend: K objects, P clicks, H/W frame size. No ``from __future__ import annotations``: Gradio
reads the handlers' annotations (``gr.SelectData``) at run time.
"""

import functools
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lang2motion.apps import generate as generate_verb
from lang2motion.apps import interpolate as interpolate_verb
from lang2motion.apps import retrieve as retrieve_verb
from lang2motion.apps.outputs import Style, animate
from lang2motion.data.splits import resolve_split
from lang2motion.errors import ConfigError, DataError, DependencyError, Lang2MotionError
from lang2motion.images import read_mask, read_rgb, write_png
from lang2motion.regions import SAM_CHECKPOINT_ENV, SAM_INSTALL, parse_box, pick_objects
from lang2motion.render.video import write_animation
from lang2motion.trained_model import DEFAULT_CANVAS, Lang2MotionModel

log = logging.getLogger(__name__)

DEMO_INSTALL = 'pip install -e ".[demo]"'
EXAMPLES_MAX = 8                  # example frames shown (the first videos of the valid split)
EXAMPLES_HEIGHT = 180             # pixels of the examples strip on the page
RESULTS_HEIGHT = 320              # pixels of each results gallery (animations, stills)
RETRIEVE_K = 8                    # default and range of the Retrieve tab's k
RETRIEVE_K_MAX = 16
INTERPOLATE_STEPS = 5
INTERPOLATE_STEPS_MAX = 9
REQUESTS_KEPT = 100               # result folders kept on disk (older ones are deleted)
CLICK_RADIUS = 4                  # preview: a click's dot, pixels of the frame
CLICK_RGB = (255, 40, 40)
BOX_RGB = (255, 200, 0)
PICKED_TINT = 0.45                # preview: opacity of the picked object's tint
PICKED_RGB = (0, 200, 255)
WARM_UP_PROMPT = "an object moving to the right"
POINT_MODE = "point on the object"
BOX_MODE = "box corner (two clicks)"
# What keeps Gradio from phoning home (telemetry, version check, HF hub telemetry).
OFFLINE_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1",
               "HF_HUB_OFFLINE": "1"}


def require_gradio() -> Any:
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    try:
        import gradio
    except ImportError as exc:
        raise DependencyError(f"the demo page needs Gradio, which is not installed ({exc}); "
                              f"install the demo extra with: {DEMO_INSTALL} (in the project "
                              "folder, e.g. .venv/bin/pip install -e \".[demo]\"), then run "
                              "lang2motion demo again") from None
    return gradio


# -- what the page offers -----------------------------------------------------------------------
@dataclass
class Example:
    name: str                # video id
    image_path: Path         # the frame file
    image: np.ndarray        # (H, W, 3) uint8 RGB
    masks: np.ndarray        # (K, H, W) bool: the objects visible in the frame
    captions: list[str]      # (K,) an expression naming each object alone ("" if none does)

    @property
    def title(self) -> str:
        said = next((c for c in self.captions if c), "")
        return f"{self.name}: {said}" if said else self.name


def load_examples(raw_dir: str | os.PathLike[str], split: str) -> list[Example]:
    data = resolve_split(raw_dir, split)
    examples = []
    for video_id in data.video_ids()[:EXAMPLES_MAX]:
        video = data.video(video_id)
        path = data.frame_path(video_id, video.frame_names[0])
        image = read_rgb(path)
        anno_ids = sorted({a for e in video.expressions for a in e.anno_ids},
                          key=lambda a: (len(a), a))
        masks, captions = [], []
        if data.has_masks:
            for anno_id in anno_ids:
                mask = data.object_masks(video_id, [anno_id], 0, 1)[0]
                if mask.any():
                    masks.append(mask)
                    captions.append(next((e.text for e in video.expressions
                                          if e.anno_ids == (anno_id,)), ""))
        stack = np.stack(masks) if masks else np.zeros((0, *image.shape[:2]), bool)
        examples.append(Example(video_id, path, image, stack, captions))
    return examples


@dataclass
class Frame:
    path: str                # what generate reads (the example's frame file or the upload)
    example: int | None      # index into Demo.examples, None for an upload
    image: np.ndarray        # (H, W, 3) uint8 RGB


def new_session() -> dict[str, Any]:   # one browser session's state
    return {"frame": None, "clicks": [], "corner": None, "results": []}


def parse_prompts(text: str) -> list[str]:
    prompts = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    if not prompts:
        raise ConfigError("type a prompt first: the motion in words, one prompt per line, e.g. "
                          "\"a dog running to the left\"")
    return prompts


@dataclass
class Demo:
    model: Lang2MotionModel
    examples: list[Example]
    examples_from: str                # where the examples came from, or why there are none
    gallery_source: str
    sam_checkpoint: str | None        # None: $LANG2MOTION_SAM_CHECKPOINT, if set
    device: str
    work_dir: Path
    style: Style = field(default_factory=Style)
    _galleries: dict[tuple[str, float], retrieve_verb.Gallery] = field(default_factory=dict)
    _requests: int = 0

    def __post_init__(self) -> None:
        self.sam_checkpoint = self.sam_checkpoint or os.environ.get(SAM_CHECKPOINT_ENV) or None

    def header(self) -> str:
        model, meta = self.model, self.model.meta
        lines = [
            f"**Checkpoint** `{self.model.path}` (epoch {meta.get('epoch', '?')}, git "
            f"`{str(meta.get('git_rev') or '?')[:10]}`; {self.model.frames} frames x "
            f"{self.model.points} points) · **CLIP** `{model.clip_model}`, weights "
            f"`{model.clip_pretrained}` · **Data** examples: {self.examples_from}; retrieval: "
            f"`{self.gallery_source}`"]
        if self.model.random_clip:
            captions = [c for e in self.examples for c in e.captions if c][:2]
            hint = (" Captions like " + ", ".join(f"\"{c}\"" for c in captions) + " work best."
                    if captions else "")
            lines.append(f"> **This CLIP has random weights** (`{model.clip_pretrained}`): it "
                         "understands no language. Prompts work only through their resemblance "
                         f"to the training captions.{hint}")
        return "\n\n".join(lines)

    def region_note(self) -> str:
        if self.sam_checkpoint:
            return (f"Clicks on an example frame pick its annotated object; on an uploaded frame "
                    f"clicks and boxes go through SAM (`{self.sam_checkpoint}`).")
        return ("Clicks on an example frame pick its annotated object. On an uploaded frame "
                "clicks are unavailable: turning a click into an object needs SAM (install the "
                f"`sam` extra, `{SAM_INSTALL}`, and start the demo with `--sam-checkpoint` or "
                f"${SAM_CHECKPOINT_ENV}); draw a box instead (used as a rectangle).")

    def pick_example(self, index: int) -> Frame:
        if not 0 <= index < len(self.examples):
            raise ConfigError(f"no example {index}")
        example = self.examples[index]
        return Frame(str(example.image_path), index, example.image)

    def load_upload(self, path: str | None) -> Frame:
        if not path:
            raise DataError("no file was uploaded")
        return Frame(str(path), None, read_rgb(path))

    def frame_of(self, session: dict[str, Any]) -> Frame:
        frame = session.get("frame")
        if frame is None:
            raise ConfigError("choose a frame first: pick an example or upload an image")
        return frame

    def click(self, session: dict[str, Any], x: float, y: float, *, mode: str,
              box_text: str) -> tuple[dict[str, Any], str]:
        """A point on the object or a box corner -> (session, box text: filled by the second
        corner)."""
        frame = self.frame_of(session)
        if mode == BOX_MODE:
            if session["corner"] is None:
                session["corner"] = [x, y]
                return session, box_text
            (x0, y0), session["corner"] = session["corner"], None
            session["clicks"] = []
            return session, (f"{min(x0, x):g},{min(y0, y):g},{max(x0, x):g},"
                             f"{max(y0, y):g}")
        clicks = [*session["clicks"], [x, y]]
        if frame.example is not None:
            pick_objects(self.examples[frame.example].masks, clicks)   # refuse a miss now
        elif not self.sam_checkpoint:
            raise ConfigError("clicks on an uploaded frame need SAM to find the object (see the "
                              "note under the frame); choose \"box corner\" and click two "
                              "corners instead")
        session["clicks"] = clicks
        return session, box_text

    def preview(self, session: dict[str, Any], box_text: str) -> np.ndarray:   # (H, W, 3)
        """The frame with the picked object tinted, the clicks and the box drawn."""
        frame = self.frame_of(session)
        image = frame.image.copy()
        if frame.example is not None and session["clicks"]:
            mask, _ = pick_objects(self.examples[frame.example].masks, session["clicks"])
            tint = np.array(PICKED_RGB, np.float32)
            image[mask] = ((1 - PICKED_TINT) * image[mask] + PICKED_TINT * tint).astype(np.uint8)
        if box_text and box_text.strip():
            try:
                x0, y0, x1, y1 = parse_box(box_text)
                cv2.rectangle(image, (round(x0), round(y0)), (round(x1), round(y1)), BOX_RGB, 2)
            except ConfigError:
                pass          # a half-typed box: Generate will say what is wrong with it
        for x, y in [*session["clicks"], *([session["corner"]] if session["corner"] else [])]:
            cv2.circle(image, (round(x), round(y)), CLICK_RADIUS, CLICK_RGB, -1)
        return image

    def request_dir(self, verb: str) -> Path:
        """A fresh folder for one request's files (beyond REQUESTS_KEPT the oldest go)."""
        self._requests += 1
        folder = self.work_dir / "results" / f"{self._requests:06d}-{verb}"
        folder.mkdir(parents=True)
        kept = sorted((self.work_dir / "results").iterdir())
        for old in kept[:-REQUESTS_KEPT]:
            shutil.rmtree(old, ignore_errors=True)
        return folder

    def generate(self, session: dict[str, Any], box_text: str, prompts_text: str
                 ) -> tuple[list[dict[str, Any]], str]:
        """generate's files for every prompt from the chosen object, and how the region was made."""
        prompts = parse_prompts(prompts_text)
        frame = self.frame_of(session)
        clicks, box = session["clicks"], (box_text or "").strip()
        if clicks and box:
            raise ConfigError("both clicks and a box are set: press Clear and choose the "
                              "object one way")
        if not clicks and not box:
            raise ConfigError("choose the object: click on it in the frame, or give a box")
        out = self.request_dir("generate")
        mask_path = None
        points: list[str] = []
        if clicks and frame.example is not None:
            mask, picked = pick_objects(self.examples[frame.example].masks, clicks)
            mask_path = str(out / "region.png")
            write_png(mask_path, mask)
        elif clicks:
            points = [f"{x:g},{y:g}" for x, y in clicks]
        request = generate_verb.plan(
            prompts=prompts, image=frame.path, mask=mask_path, box=box or None, points=points,
            sam_checkpoint=self.sam_checkpoint, size=DEFAULT_CANVAS,
            out_dir=out, style=self.style, overwrite=False, from_image=False,
            from_overlay=None, device=self.device, grid_points=self.model.points)
        if mask_path is not None:
            names = ", ".join(self.examples[frame.example].captions[i] or f"object {i + 1}"
                              for i in picked)
            request.region = f"the annotated object(s) clicked: {names}"
        written = generate_verb.generate_and_write(self.model, request)
        for item in written:
            item["image"] = frame.path
        session["results"] = [*session["results"], *written]
        return written, request.region

    def gallery(self, source: str) -> retrieve_verb.Gallery:
        """Loaded once per folder (again when it changes)."""
        path = Path(source or self.gallery_source)
        if not path.is_dir():
            raise DataError(f"{path}: no such folder (give a split's feature shards, e.g. "
                            "data/features/valid_u after make demo, or a folder of trajectory "
                            ".json files)")
        key = (str(path.resolve()), path.stat().st_mtime)
        if key not in self._galleries:
            self._galleries = {key: retrieve_verb.load_gallery(self.model, path)}
        return self._galleries[key]

    def retrieve(self, text: str, k: int, source: str) -> list[tuple[str, str]]:
        """The top ``k`` trajectories for ``text``: (animation path, 'rank. score caption')."""
        if not str(text or "").strip():
            raise ConfigError("type a text to rank the trajectories by")
        gallery = self.gallery(source)
        results = retrieve_verb.rank(self.model, gallery, text.strip(), k=int(k))
        out = self.request_dir("retrieve")
        shown = []
        for item in results:
            path = out / f"{item['rank']:02d}.gif"
            write_animation(path, animate(gallery.trajectories[item["index"]], style=self.style),
                            fps=self.style.fps)
            shown.append((str(path), f"{item['rank']}. {item['score']:+.3f} {item['label']}"))
        return shown

    def interpolate(self, session: dict[str, Any], a: str, b: str, steps: int
                    ) -> dict[str, Any]:
        """interpolate's own outputs, from the last Generate's object or a centred disc."""
        results = session["results"]
        mask = read_mask(results[-1]["mask"]) if results else None
        out = self.request_dir("interpolate")
        return interpolate_verb.interpolate_and_write(
            self.model, str(a or ""), str(b or ""), steps=int(steps), mask=mask, out_dir=out,
            style=self.style, overwrite=False)

    def edit(self, session: dict[str, Any], choice: int | None, upload: str | None,
             source_text: str, target_text: str) -> dict[str, Any]:
        """edit's own outputs for an uploaded trajectory file or one generated here."""
        if upload:
            trajectory, image = str(upload), None
        elif choice is not None and 0 <= int(choice) < len(session["results"]):
            item = session["results"][int(choice)]
            trajectory, image = item["trajectory"], item["image"]
        else:
            raise ConfigError("choose a trajectory to edit: one generated on the Generate tab, "
                              "or upload a trajectory .json")
        out = self.request_dir("edit")
        return generate_verb.edit_and_write(
            self.model, trajectory, source_text=str(source_text or ""),
            target_text=str(target_text or ""), image=image, out_dir=out, style=self.style,
            overwrite=False)


def demo_for(model: Lang2MotionModel, *, data_dir: str | os.PathLike[str],
             sam_checkpoint: str | None, device: str,
             work_dir: str | os.PathLike[str]) -> Demo:
    """A Demo on the checkpoint's valid split under ``data_dir`` (raw/: examples, features/:
    retrieval); without data the page offers uploads only and says why."""
    split = (model.meta.get("data") or {}).get("valid_split") or "valid_u"
    raw = Path(data_dir) / "raw"
    try:
        examples = load_examples(raw, split)
        said = f"`{raw / split}` ({len(examples)} first frames)"
    except DataError as exc:
        log.warning("no example frames: %s", exc)
        examples, said = [], f"none ({exc}; upload a frame instead)"
    return Demo(model, examples=examples, examples_from=said,
                gallery_source=str(Path(data_dir) / "features" / split),
                sam_checkpoint=sam_checkpoint, device=device, work_dir=Path(work_dir))


# -- the page -----------------------------------------------------------------------------------
def build_app(demo: Demo) -> Any:
    gr = require_gradio()

    def wire(event: Callable[..., Any], handler: Callable[..., tuple], inputs: list[Any],
             outputs: list[Any]) -> None:
        """``event`` runs ``handler``; on an error its message goes to the status (the last
        output) and nothing else changes; a bug is logged and the server keeps serving."""
        @functools.wraps(handler)      # Gradio reads the signature (gr.SelectData) through it
        def run(*args: Any) -> tuple:
            try:
                return handler(*args)
            except Lang2MotionError as exc:
                gr.Warning(str(exc))
                said = f"**Not done:** {exc}"
            except Exception as exc:
                log.exception("demo request failed")
                said = f"**Internal error** ({type(exc).__name__}: {exc}); see the server's log"
            return (*[gr.update()] * (len(outputs) - 1), said)
        event(run, inputs, outputs)

    def frame_outputs(session: dict[str, Any], box_text: str, status: str) -> tuple:
        return session, demo.preview(session, box_text), box_text, status

    def on_frame(session: dict[str, Any], frame: Frame, said: str) -> tuple:
        fresh = {**new_session(), "results": session["results"], "frame": frame}
        return frame_outputs(fresh, "", said)

    def on_example(session: dict[str, Any], evt: gr.SelectData) -> tuple:
        frame = demo.pick_example(int(evt.index))
        title = demo.examples[frame.example].title
        return on_frame(session, frame, f"Example **{title}**: click on the object.")

    def on_upload(session: dict[str, Any], path: str | None) -> tuple:
        frame = demo.load_upload(path)
        return on_frame(session, frame, f"Uploaded frame {frame.image.shape[1]}x"
                        f"{frame.image.shape[0]}: choose the object.")

    def on_click(session: dict[str, Any], mode: str, box_text: str,
                 evt: gr.SelectData) -> tuple:
        x, y = (float(v) for v in evt.index)
        updated, box = demo.click(session, x, y, mode=mode, box_text=box_text)
        said = (f"Box {box}." if box != box_text else
                f"Corner at ({x:g}, {y:g}): click the opposite corner."
                if updated["corner"] else f"{len(updated['clicks'])} click(s) on the object.")
        return frame_outputs(updated, box, said)

    def on_clear(session: dict[str, Any]) -> tuple:
        return frame_outputs({**session, "clicks": [], "corner": None}, "", "Cleared.")

    def on_box(session: dict[str, Any], box_text: str) -> tuple:
        return frame_outputs(session, box_text, "")

    def on_generate(session: dict[str, Any], box_text: str, prompts: str) -> tuple:
        written, region = demo.generate(session, box_text, prompts)
        choices = [(r["label"], i) for i, r in enumerate(session["results"])]
        return (session, [(w["animation"], w["label"]) for w in written],
                [(w["still"], w["label"]) for w in written], [w["trajectory"] for w in written],
                gr.update(choices=choices, value=len(choices) - 1),
                f"Generated {len(written)} trajectory(ies) from {region}.")

    def on_retrieve(text: str, k: float, source: str) -> tuple:
        shown = demo.retrieve(text, int(k), source)
        return shown, f"Top {len(shown)} of `{source}` for \"{text.strip()}\"."

    def on_interpolate(session: dict[str, Any], a: str, b: str, steps: float) -> tuple:
        result = demo.interpolate(session, a, b, int(steps))
        files = [v for k, v in result.items() if k.startswith("step") and k[4:].isdigit()]
        where = "the object of your last Generate" if session["results"] else \
            "a centred disc (generate first to use your object)"
        return (result["animation"], result["strip"], files,
                f"{result['steps']} steps from \"{result['from']}\" to \"{result['to']}\", "
                f"from {where}.")

    def on_edit(session: dict[str, Any], choice: int | None, upload: str | None,
                source_text: str, target_text: str) -> tuple:
        result = demo.edit(session, choice, upload, source_text, target_text)
        return (result["animation"], result["still"], [result["trajectory"]],
                f"Edited: {result['label']}.")

    def result_panels(what: str, files_label: str) -> list[Any]:
        """An animation and a still side by side, and the files under them."""
        with gr.Row():
            pair = [gr.Image(label=f"{what}, {how}", type="filepath", interactive=False)
                    for how in ("animated", "full trails")]
        return [*pair, gr.File(label=files_label, file_count="multiple", interactive=False)]

    with gr.Blocks(title="lang2motion demo", analytics_enabled=False,
                   delete_cache=(3600, 3600)) as app:
        session = gr.State(new_session())
        gr.Markdown("# lang2motion: text -> point trajectories")
        gr.Markdown(demo.header(), elem_id="about")
        with gr.Tab("Generate"):
            with gr.Row():
                with gr.Column():
                    examples = gr.Gallery(
                        value=[(e.image, e.title) for e in demo.examples],
                        label="Examples: first frames of the valid split (pick one)",
                        columns=4, rows=1, height=EXAMPLES_HEIGHT, allow_preview=False,
                        elem_id="examples", visible=bool(demo.examples))
                    frame = gr.Image(label="Frame: click on the object", interactive=False,
                                     type="numpy", format="png", elem_id="frame")
                    upload = gr.File(label="...or upload a frame (PNG, JPEG)", type="filepath",
                                     elem_id="upload")
                    mode = gr.Radio([POINT_MODE, BOX_MODE], value=POINT_MODE,
                                    label="A click on the frame sets a", elem_id="mode")
                    box = gr.Textbox(label="Box x0,y0,x1,y1 (pixels; Enter to draw it)",
                                     elem_id="box")
                    clear = gr.Button("Clear clicks and box")
                    gr.Markdown(demo.region_note(), elem_id="region-note")
                with gr.Column():
                    prompts = gr.Textbox(lines=3, label="Prompts, one per line",
                                         placeholder="a red ball bouncing to the right",
                                         elem_id="prompts")
                    generate = gr.Button("Generate", variant="primary", elem_id="generate")
                    status = gr.Markdown("Pick an example or upload a frame.", elem_id="status")
                    animations, stills = (
                        gr.Gallery(label=label, columns=2, height=RESULTS_HEIGHT,
                                   object_fit="contain", allow_preview=False, elem_id=elem)
                        for label, elem in (("Trails, animated", "animations"),
                                            ("Full trails", "stills")))
                    files = gr.File(label="Trajectory files (lang2motion.trajectory/1 JSON)",
                                    file_count="multiple", interactive=False,
                                    elem_id="trajectories")
        with gr.Tab("Retrieve"):
            with gr.Row():
                query = gr.Textbox(label="Text", elem_id="retrieve-text", scale=3)
                k = gr.Slider(1, RETRIEVE_K_MAX, value=RETRIEVE_K, step=1, label="k")
            source = gr.Textbox(value=demo.gallery_source, label="Trajectories to rank: a "
                                "split's feature shards or a folder of trajectory .json files")
            retrieve = gr.Button("Retrieve", variant="primary", elem_id="retrieve")
            retrieve_status = gr.Markdown(elem_id="retrieve-status")
            ranked = gr.Gallery(label="Top k (rank, cosine, captions)", columns=4,
                                height="auto", allow_preview=False, elem_id="ranked")
        with gr.Tab("Interpolate / Edit"):
            gr.Markdown("**Interpolate**: decode along the spherical path between two prompts, "
                        "from the object of your last Generate (else a centred disc).")
            with gr.Row():
                start = gr.Textbox(label="From", elem_id="interp-a")
                end = gr.Textbox(label="To", elem_id="interp-b")
                steps = gr.Slider(2, INTERPOLATE_STEPS_MAX, value=INTERPOLATE_STEPS, step=1,
                                  label="Steps")
            interpolate = gr.Button("Interpolate", variant="primary", elem_id="interpolate")
            interp_status = gr.Markdown(elem_id="interp-status")
            interp_out = result_panels("All steps", "Step trajectories")
            gr.Markdown("**Edit**: latent arithmetic, unit(z) + text(to) - text(from), decoded "
                        "from the trajectory's own first frame.")
            with gr.Row():
                choice = gr.Dropdown(choices=[], label="A trajectory generated here",
                                     type="value", elem_id="edit-choice")
                edit_upload = gr.File(label="...or a trajectory .json", type="filepath",
                                      file_types=[".json"])
            with gr.Row():
                edit_from = gr.Textbox(label="What it does now (from)", elem_id="edit-from")
                edit_to = gr.Textbox(label="What it should do (to)", elem_id="edit-to")
            edit = gr.Button("Edit", variant="primary", elem_id="edit")
            edit_status = gr.Markdown(elem_id="edit-status")
            edit_out = result_panels("Edited", "Edited trajectory")

        frame_out = [session, frame, box, status]
        wire(examples.select, on_example, [session], frame_out)
        wire(upload.upload, on_upload, [session, upload], frame_out)
        wire(frame.select, on_click, [session, mode, box], frame_out)
        wire(clear.click, on_clear, [session], frame_out)
        wire(box.submit, on_box, [session, box], frame_out)
        wire(generate.click, on_generate, [session, box, prompts],
             [session, animations, stills, files, choice, status])
        wire(retrieve.click, on_retrieve, [query, k, source], [ranked, retrieve_status])
        wire(interpolate.click, on_interpolate, [session, start, end, steps],
             [*interp_out, interp_status])
        wire(edit.click, on_edit, [session, choice, edit_upload, edit_from, edit_to],
             [*edit_out, edit_status])
    return app


def serve_model(model: Lang2MotionModel, *, data_dir: str | os.PathLike[str], host: str,
                port: int, share: bool, sam_checkpoint: str | None, device: str) -> None:
    """The page for ``model`` until Ctrl-C; its temporary folder is removed at exit."""
    gr = require_gradio()
    with tempfile.TemporaryDirectory(prefix="lang2motion-demo-") as work:
        os.environ.setdefault("GRADIO_TEMP_DIR", str(Path(work) / "gradio"))
        demo = demo_for(model, data_dir=data_dir, sam_checkpoint=sam_checkpoint,
                        device=device, work_dir=work)
        model.generate([WARM_UP_PROMPT])   # CLIP loads and torch starts now, not on a click
        app = build_app(demo)
        app.queue(default_concurrency_limit=1)      # one model, one request at a time
        if threading.current_thread() is threading.main_thread():
            # `kill` stops it like Ctrl-C does: the temporary folder is removed on the way out
            signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            app.launch(server_name=host, server_port=port, share=share, ssr_mode=False,
                       show_error=False, footer_links=[], quiet=True, prevent_thread_lock=True,
                       allowed_paths=[work])
            print(f"lang2motion demo: serving {app.local_url}"
                  + (f" and {app.share_url}" if app.share_url else "")
                  + " (Ctrl-C stops it)", flush=True)
            app.block_thread()
        except OSError as exc:
            raise ConfigError(f"--port {port} on {host}: cannot listen there ({exc}); give "
                              "another --port") from None
        finally:
            gr.close_all()
