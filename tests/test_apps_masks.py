"""Grid regions: box/point parsing, rectangle coverage, the one-of rule, and SAM end to end.

The SAM tests build a reduced, randomly initialised SAM with segment_anything's own _build_sam
(never vit_b: 20-60 s per image on this CPU), registered by conftest as the test-only
sam_model_registry kind "vit_tiny", and load it back from a state dict file.
"""

import importlib
from pathlib import Path

import numpy as np
import pytest

from lang2motion.errors import ConfigError, DataError, DependencyError
from lang2motion.images import write_png
from lang2motion.regions import (
    SAM_CHECKPOINT_ENV,
    SamSegmenter,
    box_mask,
    kind_from_file_name,
    parse_box,
    parse_point,
    resolve_region,
)

SIZE = (48, 64)                       # (H, W) of the test image


@pytest.fixture(autouse=True)
def _no_env_checkpoint(monkeypatch):
    monkeypatch.delenv(SAM_CHECKPOINT_ENV, raising=False)


def _region(**overrides):
    args = dict(size=SIZE, image=None, mask_path=None, box=None, points=None,
                sam_checkpoint=None, device="cpu")
    args.update(overrides)
    return resolve_region(**args)


# -- parsing and rectangles ---------------------------------------------------------------------
def test_parse_box_and_point():
    assert parse_box("1,2.5, 30 ,40") == (1.0, 2.5, 30.0, 40.0)
    assert parse_point(" 3,4.5") == (3.0, 4.5)


@pytest.mark.parametrize("text", ["1,2,3", "1,2,3,4,5", "a,b,c,d", "", "1;2;3;4", "1,2,nan,4",
                                  "1,2,inf,4"])
def test_parse_box_errors_name_option_and_form(text):
    with pytest.raises(ConfigError, match=r"--box: expected x0,y0,x1,y1"):
        parse_box(text)


@pytest.mark.parametrize("text", ["1", "1,2,3", "x,y", ""])
def test_parse_point_errors_name_option_and_form(text):
    with pytest.raises(ConfigError, match=r"--point: expected x,y"):
        parse_point(text)


def test_box_mask_inclusive_pixel_centres():
    mask = box_mask((2, 1, 4, 3), (6, 7))
    expected = np.zeros((6, 7), dtype=bool)
    expected[1:4, 2:5] = True                 # rows 1..3, columns 2..4 inclusive
    np.testing.assert_array_equal(mask, expected)
    # fractional edges: only centres inside count (columns 3..4, rows 1..2)
    expected = np.zeros((6, 7), dtype=bool)
    expected[1:3, 3:5] = True
    np.testing.assert_array_equal(box_mask((2.5, 0.5, 4.9, 2.99), (6, 7)), expected)
    # a box reaching past the image is clipped
    expected = np.zeros((6, 7), dtype=bool)
    expected[4:, 5:] = True
    np.testing.assert_array_equal(box_mask((5, 4, 100, 100), (6, 7)), expected)


@pytest.mark.parametrize("box,match", [
    ((4, 1, 2, 3), "empty or inverted"),
    ((2, 3, 4, 3), "empty or inverted"),
    ((2.2, 1, 2.8, 3), "covers no pixel"),
    ((70, 10, 90, 20), r"covers no pixel centre of the 64x48"),
    ((-10, -10, -1, -1), r"covers no pixel centre of the 64x48"),
])
def test_box_mask_refuses_bad_boxes_naming_box_and_size(box, match):
    with pytest.raises(ConfigError, match=match) as info:
        box_mask(box, SIZE)
    assert f"{box[0]:g}" in str(info.value)


# -- resolve_region without SAM -----------------------------------------------------------------
def test_exactly_one_source(tmp_path):
    write_png(tmp_path / "m.png", np.ones(SIZE, dtype=bool))
    with pytest.raises(ConfigError, match="exactly one.*got none"):
        _region()
    with pytest.raises(ConfigError, match="exactly one.*got none"):
        _region(points=[])
    with pytest.raises(ConfigError, match="exactly one.*--mask, --box"):
        _region(mask_path=str(tmp_path / "m.png"), box=(1, 1, 5, 5))
    with pytest.raises(ConfigError, match="exactly one.*--box, --point"):
        _region(box=(1, 1, 5, 5), points=[(2, 2)])


def test_mask_file_and_size_rules(tmp_path):
    mask = np.zeros(SIZE, dtype=bool)
    mask[10:20, 30:40] = True
    write_png(tmp_path / "m.png", mask)
    got, how = _region(mask_path=str(tmp_path / "m.png"))
    np.testing.assert_array_equal(got, mask)
    assert how == f"mask file {tmp_path / 'm.png'}"
    got, _ = _region(size=None, mask_path=str(tmp_path / "m.png"))
    np.testing.assert_array_equal(got, mask)
    image = np.zeros((30, 40, 3), dtype=np.uint8)
    with pytest.raises(DataError, match=r"48x64.*differs.*30x40"):
        _region(size=None, image=image, mask_path=str(tmp_path / "m.png"))
    with pytest.raises(ConfigError, match="differs from the image"):
        _region(size=SIZE, image=image, box=(1, 1, 5, 5))
    with pytest.raises(ConfigError, match="--box needs the frame size"):
        _region(size=None, box=(1, 1, 5, 5))


def test_box_without_sam_is_the_rectangle():
    got, how = _region(box=(10, 5, 20, 15))
    np.testing.assert_array_equal(got, box_mask((10, 5, 20, 15), SIZE))
    assert how == "rectangle from box (10, 5, 20, 15) (no SAM checkpoint)"
    with pytest.raises(ConfigError, match="covers no pixel"):
        _region(box=(100, 100, 120, 120))


def test_points_without_sam_refused_naming_extra_option_and_env():
    with pytest.raises(ConfigError) as info:
        _region(image=np.zeros((*SIZE, 3), dtype=np.uint8), size=None, points=[(5, 5)])
    message = str(info.value)
    assert "[sam]" in message and "--sam-checkpoint" in message
    assert SAM_CHECKPOINT_ENV in message


def test_points_outside_image_refused():
    for point in [(64, 10), (-0.6, 10), (10, 47.5), (10, -3)]:
        with pytest.raises(ConfigError, match=r"outside the 64x48"):
            _region(points=[(5, 5), point], sam_checkpoint="unused.pth")


def test_sam_checkpoint_errors(tmp_path, monkeypatch):
    pytest.importorskip("segment_anything")
    image = np.zeros((*SIZE, 3), dtype=np.uint8)
    with pytest.raises(DependencyError, match=r"nope\.pth.*model-checkpoints.*375 MB"):
        _region(image=image, size=None, box=(1, 1, 9, 9),
                sam_checkpoint=str(tmp_path / "nope.pth"))
    (tmp_path / "sam_vit_b_junk.pth").write_bytes(b"not a checkpoint")
    monkeypatch.setenv(SAM_CHECKPOINT_ENV, str(tmp_path / "sam_vit_b_junk.pth"))  # env is read
    with pytest.raises(DependencyError, match=r"junk\.pth: unreadable SAM checkpoint"):
        _region(image=image, size=None, box=(1, 1, 9, 9))


def test_missing_package_names_the_extra(monkeypatch):
    real_import_module = importlib.import_module

    def without_sam(name, package=None):
        if name.startswith("segment_anything"):
            raise ImportError(f"No module named {name!r}")
        return real_import_module(name, package)

    monkeypatch.setattr(importlib, "import_module", without_sam)
    with pytest.raises(DependencyError, match=r'pip install -e "\.\[sam\]"'):
        SamSegmenter.from_checkpoint("whatever.pth")


@pytest.mark.parametrize(("file_name", "kind"), [
    ("sam_vit_b_01ec64.pth", "vit_b"), ("sam_vit_l_0b3195.pth", "vit_l"),
    ("SAM_VIT_H_4B8939.PTH", "vit_h"), ("my-vit_b.pt", "vit_b"),
])
def test_kind_from_the_released_file_name(file_name, kind):
    kinds = ["default", "vit_h", "vit_l", "vit_b"]    # sam_model_registry's keys
    assert kind_from_file_name(Path(file_name), kinds) == kind


@pytest.mark.parametrize("file_name", ["sam.pth", "vit_bx.pth", "vit_b_vs_vit_l.pth"])
def test_kind_not_in_the_file_name_asks_for_sam_kind(file_name):
    with pytest.raises(ConfigError, match=rf"{file_name}.*vit_h, vit_l, vit_b.*--sam-kind"):
        kind_from_file_name(Path(file_name), ["default", "vit_h", "vit_l", "vit_b"])


def test_unknown_kind_and_weights_of_another_kind(tmp_path, make_sam_checkpoint):
    tiny = make_sam_checkpoint(tmp_path / "sam.pth", full=True)
    with pytest.raises(ConfigError, match=r"--sam-kind 'vit_q'.*vit_b"):
        SamSegmenter.from_checkpoint(tiny, kind="vit_q")
    with pytest.raises(ConfigError, match=r"sam\.pth.*--sam-kind"):
        SamSegmenter.from_checkpoint(tiny)
    # vit_b's own builder (sam_model_registry), refusing the reduced model's weights
    with pytest.raises(DependencyError, match=r"sam\.pth: SAM weights do not fit the vit_b"):
        SamSegmenter.from_checkpoint(tiny, kind="vit_b")


# -- SAM end to end with a reduced model ---------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_full_checkpoint(tmp_path_factory, make_sam_checkpoint):
    return make_sam_checkpoint(tmp_path_factory.mktemp("sam") / "sam_vit_tiny.pth", full=True)


def _image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (*SIZE, 3), dtype=np.uint8)


def test_from_checkpoint_builds_the_registered_kind(tiny_full_checkpoint):
    segmenter = SamSegmenter.from_checkpoint(tiny_full_checkpoint)
    assert segmenter.name == "vit_tiny"
    encoder = segmenter.predictor.model.image_encoder
    assert len(encoder.blocks) == 2
    assert [b.window_size for b in encoder.blocks] == [14, 0]
    assert encoder.blocks[0].attn.num_heads == 2


def test_segment_caches_the_image_embedding(tiny_full_checkpoint, monkeypatch):
    segmenter = SamSegmenter.from_checkpoint(tiny_full_checkpoint)
    calls = []
    real_set_image = segmenter.predictor.set_image
    monkeypatch.setattr(segmenter.predictor, "set_image",
                        lambda image, **kw: (calls.append(1), real_set_image(image, **kw)))
    image = _image()
    first = segmenter.segment(image, box=(5, 5, 30, 30))
    second = segmenter.segment(image.copy(), points=[(10, 12), (20, 22)])
    assert len(calls) == 1
    segmenter.segment(image[::-1].copy(), box=(5, 5, 30, 30))
    assert len(calls) == 2
    for mask in (first, second):
        assert mask.shape == SIZE and mask.dtype == bool


def test_resolve_region_through_sam_box_and_points(tiny_full_checkpoint):
    image = _image()
    box = (10, 5, 20, 15)
    mask, how = _region(size=None, image=image, box=box, sam_checkpoint=tiny_full_checkpoint)
    assert mask.shape == SIZE and mask.dtype == bool
    assert how.startswith("SAM vit_tiny") and "from box (10, 5, 20, 15)" in how
    assert mask.all()                                # the forced full mask, not the rectangle
    assert not np.array_equal(mask, box_mask(box, SIZE))

    mask, how = _region(size=None, image=image, points=[(30.0, 20.0), (40.0, 25.0)],
                        sam_checkpoint=tiny_full_checkpoint)
    assert mask.shape == SIZE and mask.dtype == bool and mask.all()
    assert how.endswith("from points (30, 20), (40, 25)")


def test_resolve_region_reads_env_checkpoint(tiny_full_checkpoint, monkeypatch):
    monkeypatch.setenv(SAM_CHECKPOINT_ENV, tiny_full_checkpoint)
    _, how = _region(size=None, image=_image(), box=(10, 5, 20, 15))
    assert how.startswith("SAM ")
    _, how = _region(box=(10, 5, 20, 15))            # no image: SAM cannot run
    assert how == "rectangle from box (10, 5, 20, 15) (no image for SAM)"


def test_empty_sam_mask_is_a_data_error(tmp_path, make_sam_checkpoint):
    checkpoint = make_sam_checkpoint(tmp_path / "empty_vit_tiny.pth", full=False)
    with pytest.raises(DataError, match=r"empty mask for points \(5, 5\).*--box"):
        _region(size=None, image=_image(), points=[(5, 5)], sam_checkpoint=checkpoint)


def test_incomplete_checkpoint_refused(tmp_path, make_sam_checkpoint):
    torch = pytest.importorskip("torch")
    full = make_sam_checkpoint(tmp_path / "t_vit_tiny.pth", full=True)
    state = {k: v for k, v in torch.load(full, weights_only=True).items()
             if not k.startswith("mask_decoder.")}
    torch.save(state, tmp_path / "no_decoder_vit_tiny.pth")
    with pytest.raises(DependencyError, match=r"no_decoder_vit_tiny\.pth: SAM weights do not fit "
                                              r"the vit_tiny architecture.*mask_decoder"):
        SamSegmenter.from_checkpoint(tmp_path / "no_decoder_vit_tiny.pth")
