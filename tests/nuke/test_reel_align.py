"""ReelAlign: two inputs (source, reference), the Align button runs core.align.align_files; 'Output' switches the view.

End to end with core on a tiny real pair: the source is a shipped photo in
ACEScg (about 128 px wide), the reference the same picture shifted by a
known subpixel amount; a third reference frame is flat grey, which core
cannot align (a failed frame is a result, listed on the status line).
What the gizmo shows comes from the fake's :func:`_pixels`, which reads the
result EXRs through core.io and follows the Reads, Copies and Switches
inside the gizmo.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from core.errors import ImageReadError, ParameterError
from nuke_plugin import host
from nuke_plugin.nodes import reel_align

FRAMES = (1001, 1002, 1003)
FLAT = 1003                      # the reference frame that is flat grey
SHIFT = (0.4, -1.3)              # (dy, dx): reference(y, x) = source(y - 0.4, x + 1.3)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """``(source pattern, reference pattern, source pixels)``: three frames each, EXR, ACEScg."""
    from scipy import ndimage

    from core import io
    from core.color import convert
    from core.frame import Frame
    from core.io.samples import load_sample

    photo = convert(load_sample("coffee").pixels, "srgb", "ACEScg")
    small = ndimage.zoom(photo, (0.25, 0.25, 1), order=1)[2:98, 11:139].astype(np.float32)  # 96 x 128
    shifted = ndimage.shift(small, (*SHIFT, 0), order=3, mode="nearest").astype(np.float32)
    folder = tmp_path_factory.mktemp("pair")
    src, ref = (folder / "scan.####.exr").as_posix(), (folder / "dvd" / "dvd.####.exr").as_posix()
    for n in FRAMES:
        io.write_image(io.sequence_path(src, n), Frame(small, "ACEScg"), pixel_type="float")
        flat = np.full_like(small, 0.18)
        io.write_image(io.sequence_path(ref, n), Frame(flat if n == FLAT else shifted, "ACEScg"), pixel_type="float")
    return src, ref, small


def read(nuke, pattern, first=FRAMES[0], last=FRAMES[-1]):
    return nuke.nodes.Read(file=pattern, first=first, last=last, raw=True)


def make_node(nuke, tmp_path, source=None, reference=None, **knobs):
    node = nuke.createNode("ReelAlign")
    if source is not None:
        node.setInput(0, source)
    if reference is not None:
        node.setInput(1, reference)
    for key, value in {"output_dir": str(tmp_path / "out"), **knobs}.items():
        node[key].setValue(value)
    return node


def shown(nuke, node, frame):
    """The RGB the node shows at ``frame``, HW3."""
    px = nuke._pixels(node, frame)
    return np.stack([px["rgba.red"], px["rgba.green"], px["rgba.blue"]], axis=-1)


def manifest(node) -> dict:
    out = Path(node[host.OUTPUT_FILE].value()).parent.parent
    (path,) = out.glob("manifest*.json")
    return json.loads(path.read_text("utf-8"))


# ----------------------------------------------------------------------------- two labelled inputs


def test_two_inputs_labelled_source_and_reference(started):
    nuke = started
    node = nuke.createNode("ReelAlign")
    assert node.maxInputs() == 2
    assert [host.input_label(node, i) for i in (0, 1)] == ["source", "reference"]
    assert node.node("Write_input").input(0) is node.node("source")
    assert node.node("Write_reference").input(0) is node.node("reference")
    assert node.node(host.SWITCH_NODE).input(0) is node.node("source")   # not run: the source passes through


def test_gather_reads_both_inputs_directly(started, tmp_path, pair):
    nuke = started
    src, ref, _ = pair
    node = make_node(nuke, tmp_path, read(nuke, src), read(nuke, ref, 1, 1200))
    seq = host.gather_input(node, frames="1001-1002")
    other = host.gather_input(node, frames="1001-1002", input=1)
    assert (seq.origin, seq.pattern, seq.frames) == ("read", src, (1001, 1002))
    assert (other.origin, other.pattern, other.frames) == ("read", ref, (1001, 1002))
    assert other.paths() == [str(Path(ref).parent / f"dvd.{n}.exr") for n in (1001, 1002)]
    assert nuke._calls("execute") == []


def test_gather_renders_the_reference_through_its_own_write(started, tmp_path, pair):
    nuke = started
    src, ref, _ = pair
    grade = nuke.nodes.Grade()
    grade.setInput(0, read(nuke, ref))
    node = make_node(nuke, tmp_path, read(nuke, src), grade)
    seq = host.gather_input(node, frames="1001,1003", input=1)
    ((write, first, last, step), kwargs), = nuke._calls("execute")
    assert write is node.node("Write_reference") and (first, last, step) == (1001, 1003, 2)
    assert kwargs["file"] == seq.pattern == Path(seq.temp_dir, "ReelAlign1.reference.####.exr").as_posix()
    assert seq.origin == "render" and seq.identity == "render:Grade1" and seq.frames == (1001, 1003)
    assert write["disable"].value() is True and node.node("Write_input")["disable"].value() is True
    assert host.gather_input(node).origin == "read"   # the source still comes straight from its Read
    os.rmdir(seq.temp_dir)


def test_an_input_missing_is_named(started, tmp_path, pair):
    nuke = started
    src, _, _ = pair
    node = make_node(nuke, tmp_path, reference=read(nuke, src))
    assert reel_align.run(node) is None
    node.setInput(0, read(nuke, src))
    node.setInput(1, None)
    assert reel_align.run(node) is None
    messages = [args[0] for args, _ in nuke._calls("message")]
    assert messages == ["ReelAlign1: connect its source input (input 1) first",
                        "ReelAlign1: connect its reference input (input 2) first"]


# ----------------------------------------------------------------------------- end to end


def test_align_end_to_end(started, tmp_path, pair):
    from core import io

    nuke = started
    src, ref, source_px = pair
    node = make_node(nuke, tmp_path, read(nuke, src), read(nuke, ref))
    np.testing.assert_array_equal(shown(nuke, node, 1001), source_px)    # not run yet: the source
    task = reel_align.run(node)
    assert task is not None, nuke._calls("message")
    nuke._pump(until=lambda: task.done, timeout=60)
    assert task.error is None and nuke._calls("message") == []

    status = node[host.STATUS].value()
    assert status.startswith(f"aligned 2 of 3 frames; failed: {FLAT} (too little texture in the reference")
    aligned, mask, residual = (node[k].value() for k in (host.OUTPUT_FILE, "output_mask", "output_residual"))
    assert aligned.endswith("/aligned/ref.####.exr") and mask.endswith("/mask/mask.####.exr")
    assert residual.endswith("/residual/residual.####.exr")
    assert Path(aligned).parent.parent.parent == tmp_path / "out" / "ReelAlign1"
    assert (node[host.OUTPUT_FIRST].value(), node[host.OUTPUT_LAST].value()) == (1001, 1003)
    reloads = sorted(args[0] for args, _ in nuke._calls("button.execute"))
    assert reloads == [f"ReelAlign1.{r}.reload" for r in ("Read_mask", "Read_output", "Read_residual")]

    data = manifest(node)
    assert data["status"] == "done" and "output" not in data["parameters"]   # the view knob never reaches core
    for n in (1001, 1002):
        rec = data["frames"][str(n)]
        assert rec["converged"] and rec["reference"].endswith(f"dvd.{n}.exr")
        np.testing.assert_allclose(np.asarray(rec["transform"])[:2, 2], [SHIFT[1], SHIFT[0]], atol=0.1)
    assert data["frames"][str(FLAT)]["converged"] is False

    # Output: aligned (default) shows the reference on the source grid: it matches the source where trusted
    node["output"].setValue("mask")
    m = shown(nuke, node, 1001)
    assert np.array_equal(m[..., 0], m[..., 1]) and np.array_equal(m[..., 0], m[..., 2])   # grey, from Y
    valid = m[..., 0] > 0.5
    assert valid.mean() > 0.6 and set(np.unique(m)) <= {0.0, 1.0}
    assert shown(nuke, node, FLAT).max() == 0                 # a failed frame trusts no pixel
    node["output"].setValue("aligned")
    after = np.abs(shown(nuke, node, 1001) - source_px)[valid].mean()
    before = np.abs(io.read_image(io.sequence_path(ref, 1001)).pixels - source_px)[valid].mean()
    assert after < 0.4 * before, (after, before)
    node["output"].setValue("residual")
    r = shown(nuke, node, 1002)
    expected = io.read_image(io.sequence_path(residual, 1002)).pixels[..., 0]
    for c in range(3):
        np.testing.assert_array_equal(r[..., c], expected)
    assert len(nuke._calls("ProgressTask")) == 1            # switching the output re-ran nothing


def test_headless_button_with_a_rendered_reference(headless, tmp_path, pair):
    """`nuke -t`: the Align knob's script runs inline; the reference renders through Write_reference."""
    from core import io
    from core.frame import Frame

    nuke = headless
    nuke._run_startup(str(Path(__file__).resolve().parents[2]), "init.py")
    src, ref, _ = pair

    def render(write, frame):   # Nuke would render the Grade; copy the reference frame in its place
        assert write.name() == "Write_reference"
        img = io.read_image(io.sequence_path(ref, frame))
        io.write_image(io.sequence_path(write["file"].value(), frame), Frame(img.pixels, "ACEScg"),
                       pixel_type="float", overwrite=True)

    nuke._render_hook = render
    grade = nuke.nodes.Grade()
    grade.setInput(0, read(nuke, ref))
    node = make_node(nuke, tmp_path, read(nuke, src), grade, frames="1001-1002", method="global", report=False)
    node["align"].execute()
    assert node[host.STATUS].value() == "aligned 2 of 2 frames"
    assert node[host.OUTPUT_READY].value() is True
    (_, kwargs), = nuke._calls("execute")
    assert not os.path.exists(os.path.dirname(kwargs["file"]))   # the temporary render is gone
    data = manifest(node)
    assert data["frames"]["1001"]["reference"].endswith("/ReelAlign1.reference.1001.exr")
    assert data["parameters"]["method"] == "global" and data["parameters"]["report"] is False
    assert not (Path(node[host.OUTPUT_FILE].value()).parent.parent / "report").exists()


# ----------------------------------------------------------------------------- frames pair by number


def test_reference_range_lacking_source_frames_stops_the_node(started, tmp_path, pair):
    nuke = started
    src, ref, _ = pair
    node = make_node(nuke, tmp_path, read(nuke, src), read(nuke, ref, 1001, 1002))
    assert reel_align.run(node) is None
    ((text,), _), = nuke._calls("message")
    assert text.startswith("ReelAlign1: the reference input has frames 1001-1002 and lacks source frame(s) 1003")
    assert "same number" in text
    assert node[host.STATUS].value().startswith("not run: the reference input has frames 1001-1002")
    assert nuke._progress_tasks == [] and node[host.OUTPUT_READY].value() is False
    # a source rendered before the check fails leaves no temporary files behind
    grade = nuke.nodes.Grade()
    grade.setInput(0, read(nuke, src))
    node.setInput(0, grade)
    assert reel_align.run(node) is None
    (_, kwargs), = nuke._calls("execute")
    assert "Write_input" in repr(nuke._calls("execute")) and not os.path.exists(os.path.dirname(kwargs["file"]))


def test_reference_file_missing_is_reported_on_the_node(started, tmp_path, pair, caplog):
    """The reference Read claims the frames but a file is missing: core names it, the node says so."""
    from core import io

    caplog.errors_expected = True
    nuke = started
    src, ref, _ = pair
    holes = (tmp_path / "holes" / "dvd.####.exr").as_posix()
    os.makedirs(os.path.dirname(holes))
    for n in (1001, 1002):
        Path(io.sequence_path(holes, n)).write_bytes(Path(io.sequence_path(ref, n)).read_bytes())
    node = make_node(nuke, tmp_path, read(nuke, src), read(nuke, holes))
    task = reel_align.run(node)
    nuke._pump(until=lambda: task.done, timeout=60)
    assert isinstance(task.error, ImageReadError)
    ((text,), _), = nuke._calls("message")
    assert text.startswith("ReelAlign1: align failed: ") and "the reference of source frame 1003" in text
    status = node[host.STATUS].value()
    assert status.startswith("failed: ") and "dvd.1003.exr: no such file (the reference of source frame 1003)" in status
    assert node[host.OUTPUT_READY].value() is False


def test_bad_knob_value_is_reported(started, tmp_path, pair):
    nuke = started
    src, ref, _ = pair
    node = make_node(nuke, tmp_path, read(nuke, src), read(nuke, ref), max_size=8)
    assert reel_align.run(node) is None
    ((text,), _), = nuke._calls("message")
    assert text.startswith("ReelAlign1: parameter 'max_size': 8 is below the minimum 64")
    nuke._set_gui(False)
    with pytest.raises(ParameterError, match="max_size"):
        reel_align.run(node)


def test_status_line():
    frames = {str(n): {"converged": n % 2 == 0, "reason": "" if n % 2 == 0 else f"reason {n}"}
              for n in range(1, 15)}
    assert reel_align.describe({"frames": frames}) == (
        "aligned 7 of 14 frames; failed: 1 (reason 1); 3 (reason 3); 5 (reason 5); 7 (reason 7); "
        "9 (reason 9); and 2 more")
    assert reel_align.describe({"frames": {"7": {"converged": True, "reason": ""}}}) == "aligned 1 of 1 frames"
