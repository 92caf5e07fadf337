"""The demo page's logic (lang2motion.apps.demo.Demo) without a browser, on the tiny checkpoint
and data of conftest.py: example frames carry the data set's masks, a click picks the object
under it, Generate writes what `lang2motion generate` writes and starts inside the object, and
every bad input is a project error with a message (the page shows it).

The page itself, in Chromium: tests/test_demo_browser.py.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from lang2motion import Lang2MotionModel
from lang2motion.apps import demo as demo_app
from lang2motion.cli import main
from lang2motion.data.splits import resolve_split
from lang2motion.errors import ConfigError, DataError
from lang2motion.images import read_rgb
from lang2motion.regions import pick_objects
from lang2motion.trajectory import read_trajectory


@pytest.fixture(scope="module")
def model(tiny_checkpoint) -> Lang2MotionModel:
    return Lang2MotionModel.load(tiny_checkpoint, device="cpu")


@pytest.fixture
def demo(model, tiny_data, tmp_path) -> demo_app.Demo:
    return demo_app.demo_for(model, data_dir=tiny_data, sam_checkpoint=None, device="cpu",
                             work_dir=tmp_path / "work")


def inside(mask: np.ndarray) -> list[float]:
    """A click on the pixel of ``mask`` farthest from its edge (x, y)."""
    import cv2

    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return [float(x), float(y)]


def session_on(demo: demo_app.Demo, index: int = 0, clicks=()) -> dict:
    session = demo_app.new_session()
    session["frame"] = demo.pick_example(index)
    session["clicks"] = [list(c) for c in clicks]
    return session


def test_pick_objects_takes_the_object_under_each_click():
    masks = np.zeros((2, 4, 6), bool)
    masks[0, 0:2, 0:3] = True               # object 0: top-left 2 x 3
    masks[1, 1:4, 2:6] = True               # object 1 overlaps it at (x=2, y=1)
    mask, picked = pick_objects(masks, [[0, 0]])
    assert picked == [0] and mask.sum() == 6
    mask, picked = pick_objects(masks, [[5, 3], [0.4, 1.4]])    # rounds to pixel (0, 1)
    assert picked == [1, 0] and mask.sum() == 6 + 12 - 1
    assert pick_objects(masks, [[2, 1]])[1] == [0]              # overlap: the first listed
    with pytest.raises(ConfigError, match="none of the 2 known object"):
        pick_objects(masks, [[5, 0]])
    with pytest.raises(ConfigError, match="outside the 6x4"):
        pick_objects(masks, [[6, 0]])


def test_examples_are_first_frames_with_the_splits_own_masks(tiny_data):
    examples = demo_app.load_examples(tiny_data / "raw", "valid_u")
    split = resolve_split(tiny_data / "raw", "valid_u")
    assert [e.name for e in examples] == split.video_ids()
    for example in examples:
        video = split.video(example.name)
        np.testing.assert_array_equal(example.image,
                                      read_rgb(split.frame_path(example.name,
                                                                video.frame_names[0])))
        assert example.masks.shape[1:] == example.image.shape[:2] and len(example.masks) >= 1
        anno_ids = {a for e in video.expressions for a in e.anno_ids}
        truth = [split.object_masks(example.name, [a], 0, 1)[0] for a in anno_ids]
        truth = [m for m in truth if m.any()]            # objects visible in the first frame
        assert len(example.masks) == len(truth)
        for mask, caption in zip(example.masks, example.captions, strict=True):
            assert any(np.array_equal(mask, m) for m in truth)
            assert caption == "" or caption in {e.text for e in video.expressions}


def test_generate_from_a_click_writes_generates_files_starting_inside_the_object(demo, model):
    example = demo.examples[0]
    session = session_on(demo, clicks=[inside(example.masks[0])])
    written, region = demo.generate(session, "", "moving left\n\n  a ball bouncing  \n")
    assert [w["label"] for w in written] == ["moving left", "a ball bouncing"]
    assert example.captions[0] in region
    for item in written:
        trajectory = read_trajectory(item["trajectory"])
        assert trajectory.tracks_px.shape == (model.frames, model.points, 2)
        assert (trajectory.width, trajectory.height) == example.image.shape[1::-1]
        x, y = np.round(trajectory.tracks_px[0]).astype(int).T
        assert example.masks[0][y, x].all()
        for key in ("animation", "still", "mask"):
            assert (demo.work_dir / item[key]).is_file()
    assert len(session["results"]) == 2


def test_a_box_is_a_rectangle_without_sam_and_two_corner_clicks_make_one(demo):
    session = session_on(demo)
    session, box = demo.click(session, 70, 50, mode=demo_app.BOX_MODE, box_text="")
    assert box == "" and session["corner"] == [70, 50]
    session, box = demo.click(session, 20, 10, mode=demo_app.BOX_MODE, box_text="")
    assert box == "20,10,70,50" and session["corner"] is None
    [item], region = demo.generate(session, box, "moving up")
    assert "rectangle from box" in region
    x, y = read_trajectory(item["trajectory"]).tracks_px[0].T
    assert (x >= 20).all() and (x <= 70).all() and (y >= 10).all() and (y <= 50).all()


@pytest.mark.parametrize(("frame", "clicks", "box", "prompts", "error", "named"), [
    ("example", "object", "", "  \n ", ConfigError, "type a prompt"),
    ("example", None, "", "moving left", ConfigError, "choose the object"),
    (None, None, "", "moving left", ConfigError, "choose a frame"),
    ("example", None, "500,500,600,600", "moving left", ConfigError, "covers no pixel"),
    ("example", None, "1,2,3", "moving left", ConfigError, "x0,y0,x1,y1"),
    ("example", "object", "1,2,30,40", "moving left", ConfigError, "both clicks and a box"),
    ("example", "object", "", "same\nsame", ConfigError, "twice"),
])
def test_bad_generate_input_is_a_message(demo, frame, clicks, box, prompts, error, named):
    session = session_on(demo) if frame else demo_app.new_session()
    if clicks:
        session["clicks"] = [inside(demo.examples[0].masks[0])]
    with pytest.raises(error, match=named):
        demo.generate(session, box, prompts)
    assert session["results"] == []


def test_clicks_that_miss_or_need_sam_are_refused(demo, tmp_path):
    session = session_on(demo)
    background = ~demo.examples[0].masks.any(axis=0)
    with pytest.raises(ConfigError, match="none of the"):
        demo.click(session, *inside(background), mode=demo_app.POINT_MODE, box_text="")
    assert session["clicks"] == []
    broken = tmp_path / "frame.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DataError, match="frame.png"):
        demo.load_upload(str(broken))
    session["frame"] = demo.load_upload(str(demo.examples[1].image_path))
    with pytest.raises(ConfigError, match="need SAM"):
        demo.click(session, 5, 5, mode=demo_app.POINT_MODE, box_text="")


def test_retrieve_interpolate_and_edit(demo, model):
    shown = demo.retrieve("caption 2", 3, demo.gallery_source)
    assert len(shown) == 3 and all(path.endswith(".gif") for path, _ in shown)
    assert [label.split(".")[0] for _, label in shown] == ["1", "2", "3"]
    assert all("caption" in label for _, label in shown)
    with pytest.raises(DataError, match="no such folder"):
        demo.retrieve("x", 3, str(demo.work_dir / "nowhere"))
    session = session_on(demo, clicks=[inside(demo.examples[0].masks[0])])
    demo.generate(session, "", "moving left")
    result = demo.interpolate(session, "moving left", "moving right", 3)
    steps = [read_trajectory(result[f"step{k:02d}"]) for k in range(3)]
    first = read_trajectory(session["results"][0]["trajectory"])
    np.testing.assert_allclose(steps[0].tracks, first.tracks, atol=1e-5)   # same object, same end
    edited = demo.edit(session, 0, None, "moving left", "moving right")
    assert read_trajectory(edited["trajectory"]).source["kind"] == "edit"
    with pytest.raises(ConfigError, match="choose a trajectory"):
        demo.edit(demo_app.new_session(), None, None, "a", "b")


def test_the_header_names_checkpoint_clip_data_and_the_random_clip(demo, tiny_checkpoint):
    text = demo.header()
    assert str(tiny_checkpoint) in text and "L2M-Tiny" in text and "valid_u" in text
    assert "random weights" in text and "understands no language" in text
    assert "SAM" in demo.region_note()


def test_without_data_the_page_still_serves_uploads(model, tmp_path):
    demo = demo_app.demo_for(model, data_dir=tmp_path / "none", sam_checkpoint=None,
                             device="cpu", work_dir=tmp_path / "work")
    assert demo.examples == [] and "none" in demo.examples_from


def test_demo_without_gradio_names_the_extra(tiny_checkpoint, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "gradio", None)       # import gradio -> ImportError
    code = main(["demo", "--model", str(tiny_checkpoint)])
    err = capsys.readouterr().err
    assert code == 2 and 'pip install -e ".[demo]"' in err and "Traceback" not in err
    assert err.count("\n") == 1                             # one paragraph


def test_the_page_builds(demo):
    pytest.importorskip("gradio", reason="the demo extra (gradio) is not installed")
    app = demo_app.build_app(demo)
    assert app.title == "lang2motion demo"


def test_clicks_on_an_upload_go_through_sam_when_given(model, tiny_data, tmp_path,
                                                       make_sam_checkpoint):
    sam = make_sam_checkpoint(tmp_path / "sam_vit_tiny.pth", full=True)
    demo = demo_app.demo_for(model, data_dir=tiny_data, sam_checkpoint=sam, device="cpu",
                             work_dir=tmp_path / "work")
    assert sam in demo.region_note()
    session = demo_app.new_session()
    session["frame"] = demo.load_upload(str(demo.examples[0].image_path))
    session, _ = demo.click(session, 30, 20, mode=demo_app.POINT_MODE, box_text="")
    [item], region = demo.generate(session, "", "moving left")
    assert region.startswith("SAM") and "(30, 20)" in region
    assert read_trajectory(item["trajectory"]).tracks.shape == (model.frames, model.points, 2)
