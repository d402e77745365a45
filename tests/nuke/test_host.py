"""The host adapter: input discovery, temporary renders, output wiring, the task runner."""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path

import pytest

from core.errors import ColorSpaceError, ImageError, ImageWriteError, ParameterError, SequenceError
from nuke_plugin import host


def plate(nuke, tmp_path, name="plate.####.exr", **knobs):
    values = {"file": (tmp_path / name).as_posix(), "first": 1001, "last": 1003, "raw": True, **knobs}
    return nuke.nodes.Read(**values)


# ----------------------------------------------------------------------------- input: an upstream Read's files


def test_plain_read_is_read_directly(started, tmp_path):
    nuke = started
    node = nuke.createNode("ReelColorConvert")
    read = plate(nuke, tmp_path)
    node.setInput(0, read)
    seq = host.gather_input(node)
    assert (seq.origin, seq.pattern, seq.frames) == ("read", (tmp_path / "plate.####.exr").as_posix(),
                                                     (1001, 1002, 1003))
    assert seq.paths() == [(tmp_path / f"plate.{n}.exr").as_posix() for n in (1001, 1002, 1003)]
    assert seq.frames_text == "1001-1003" and seq.identity == seq.pattern and seq.temp_dir is None


def test_read_through_dots_with_printf_pattern_and_frames(started, tmp_path):
    nuke = started
    node = nuke.createNode("ReelColorConvert")
    read = plate(nuke, tmp_path, "plate.%04d.exr", first=1, last=20)
    dot1, dot2 = nuke.nodes.Dot(), nuke.nodes.Dot()
    dot2.setInput(0, read)
    dot1.setInput(0, dot2)
    node.setInput(0, dot1)
    seq = host.gather_input(node, frames="5-9x2, 12")
    assert seq.origin == "read" and seq.frames == (5, 7, 9, 12)
    assert seq.paths()[0] == (tmp_path / "plate.0005.exr").as_posix()
    assert seq.upstream == read.fullName()
    assert nuke._calls("execute") == []


def test_still_image(started, tmp_path):
    nuke = started
    node = nuke.createNode("ReelColorConvert")
    node.setInput(0, plate(nuke, tmp_path, "still.png", first=1, last=1))
    seq = host.gather_input(node)
    assert seq.still and seq.frames == (1,) and seq.frames_text is None
    assert seq.paths() == [(tmp_path / "still.png").as_posix()]


@pytest.mark.parametrize("knobs, working, direct", [
    ({"raw": True, "colorspace": "sRGB"}, "linear", True),
    ({"raw": False, "colorspace": "default (linear)"}, "linear", True),
    ({"raw": False, "colorspace": "ACES - ACEScg"}, "ACES - ACEScg", True),
    ({"raw": False, "colorspace": "scene_linear"}, "ACES - ACEScg", True),
    ({"raw": False, "colorspace": "sRGB"}, "linear", False),
    ({"raw": False, "colorspace": "default"}, "linear", False),
    ({"frame": "frame+10"}, "linear", False),
    ({"disable": True}, "linear", False),
    ({"file": "/shots/[value root.shot]/plate.####.exr"}, "linear", False),
    ({"file": "/shots/plate.%V.####.exr"}, "linear", False),
    ({"file": "/shots/plate.####.dpx"}, "linear", False),
])
def test_when_a_read_is_read_directly(started, tmp_path, knobs, working, direct):
    nuke = started
    nuke.root()["workingSpaceLUT"].setValue(working)
    node = nuke.createNode("ReelColorConvert")
    node.setInput(0, plate(nuke, tmp_path, **knobs))
    seq = host.gather_input(node)
    assert seq.origin == ("read" if direct else "render")
    assert bool(nuke._calls("execute")) is not direct


# ----------------------------------------------------------------------------- input: a temporary render


def test_render_path_executes_the_inner_write(started, tmp_path):
    nuke = started
    node = nuke.createNode("ReelColorConvert")
    grade = nuke.nodes.Grade()
    grade.setInput(0, plate(nuke, tmp_path, first=1, last=5))
    node.setInput(0, grade)
    seq = host.gather_input(node)
    write = node.node(host.WRITE_NODE)
    ((w, first, last, incr), kwargs), = nuke._calls("execute")
    assert w is write and (first, last, incr) == (1, 5, 1)
    assert kwargs["file"] == seq.pattern == Path(seq.temp_dir, f"{node.name()}.input.####.exr").as_posix()
    assert seq.origin == "render" and seq.frames == (1, 2, 3, 4, 5) and seq.identity == "render:Grade1"
    assert Path(seq.temp_dir).is_dir()
    assert write["disable"].value() is True and write["file"].value() == ""
    os.rmdir(seq.temp_dir)


def test_render_mode_renders_even_a_plain_read(node, tmp_path):
    import nuke

    node.setInput(0, plate(nuke, tmp_path))
    seq = host.gather_input(node, frames="1001,1003", mode="render")
    assert seq.origin == "render"
    assert [a[1:] for a, _ in nuke._calls("execute")] == [(1001, 1003, 2)]
    os.rmdir(seq.temp_dir)


def test_render_of_scattered_frames_covers_exactly_them(node, tmp_path):
    import nuke

    rendered = []
    nuke._render_hook = lambda write, frame: rendered.append(frame)
    node.setInput(0, nuke.nodes.Grade())
    seq = host.gather_input(node, frames="1,3-5,9")
    assert rendered == [1, 3, 4, 5, 9] and seq.frames == (1, 3, 4, 5, 9)
    os.rmdir(seq.temp_dir)


@pytest.mark.parametrize("error, raised", [(RuntimeError("disk full"), ImageWriteError),
                                           (RuntimeError("Cancelled"), host.TaskCancelled)])
def test_render_failure_cleans_up(node, monkeypatch, error, raised):
    import nuke

    made = []
    real_mkdtemp = host.tempfile.mkdtemp
    monkeypatch.setattr(host.tempfile, "mkdtemp", lambda **kw: made.append(real_mkdtemp(**kw)) or made[-1])

    def fail(write, frame):
        raise error

    nuke._render_hook = fail
    node.setInput(0, nuke.nodes.Grade())
    with pytest.raises(raised, match=node.name()):
        host.gather_input(node, frames="1-3")
    assert made and not os.path.exists(made[0])
    assert node.node(host.WRITE_NODE)["disable"].value() is True


def test_no_input(node):
    with pytest.raises(ParameterError, match="ReelColorConvert1: connect an input"):
        host.gather_input(node)


def test_bad_frames(node, tmp_path):
    import nuke

    node.setInput(0, plate(nuke, tmp_path))
    with pytest.raises(SequenceError, match="frame range"):
        host.gather_input(node, frames="1001-")


def test_frame_runs():
    assert host.frame_runs([1, 3, 5, 6]) == [(1, 5, 2), (6, 6, 1)]
    assert host.frame_runs(range(1001, 1101)) == [(1001, 1100, 1)]
    assert host.frame_runs([7]) == [(7, 7, 1)]
    rng = random.Random(4)
    for _ in range(200):
        frames = set(rng.sample(range(50), rng.randint(1, 20)))
        covered = [n for a, b, s in host.frame_runs(frames) for n in range(a, b + 1, s)]
        assert sorted(covered) == sorted(frames)


# ----------------------------------------------------------------------------- colour and output


@pytest.mark.parametrize("nuke_name, reelkit", [("linear", "lin_rec709"), ("ACES - ACEScg", "ACEScg"),
                                                ("ACEScg", "ACEScg"), ("ACES - ACES2065-1", "ACES2065-1")])
def test_working_space(nuke, nuke_name, reelkit):
    nuke.root()["workingSpaceLUT"].setValue(nuke_name)
    assert host.working_space() == reelkit


def test_unknown_working_space(nuke):
    nuke.root()["workingSpaceLUT"].setValue("scene_linear")
    with pytest.raises(ColorSpaceError, match="'scene_linear' has no reelkit name"):
        host.working_space()


def test_output_dir(node, tmp_path):
    import nuke

    a = host.output_dir(node, str(tmp_path), {"target": "srgb"})
    assert a.parent == tmp_path / node.name() and len(a.name) == 12
    assert host.output_dir(node, str(tmp_path), {"target": "srgb"}) == a
    assert host.output_dir(node, str(tmp_path), {"target": "Lab"}) != a
    nuke.root()["name"].setValue("/shows/x/comp_v003.nk")
    assert host.output_dir(node, "  ", {}).parent.parent.name == "comp_v003"
    assert host.output_dir(node, "", {}).parent.parent.parent.name == "reelkit"


def test_set_output(node, tmp_path):
    import nuke

    host.set_output(node, tmp_path / "out" / "x.####.exr", 1001, 1100, "srgb -> Lab")
    assert node[host.OUTPUT_FILE].value() == (tmp_path / "out" / "x.####.exr").as_posix()
    assert (node[host.OUTPUT_FIRST].value(), node[host.OUTPUT_LAST].value()) == (1001, 1100)
    assert node[host.OUTPUT_READY].value() is True and node[host.STATUS].value() == "srgb -> Lab"
    assert nuke._calls("button.execute") == [((f"{node.name()}.{host.READ_NODE}.reload",), {})]


# ----------------------------------------------------------------------------- the task runner


def frames_work(n, seen):
    def work(progress):
        for i in range(n):
            seen.append((threading.current_thread() is threading.main_thread(), 1001 + i))
            progress(i + 1, n, 1001 + i)
        return "result"

    return work


def test_gui_task_runs_in_a_thread_with_progress(nuke, tmp_path):
    seen, done = [], []
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    task = host.run_task("job", frames_work(3, seen), on_done=lambda r: done.append(
        (r, threading.current_thread() is threading.main_thread())), cleanup=scratch)
    nuke._pump(until=lambda: task.done)
    assert seen == [(False, 1001), (False, 1002), (False, 1003)]
    assert done == [("result", True)]
    (pt,) = nuke._progress_tasks
    assert pt._title == "job" and pt._progress == [33, 66, 100]
    assert pt._messages == ["starting", "frame 1001 (1/3)", "frame 1002 (2/3)", "frame 1003 (3/3)"]
    assert task.result == "result" and not task.cancelled and task.error is None
    assert not scratch.exists()


def test_cancel_stops_between_frames(nuke, tmp_path):
    nuke._cancel_after = 2
    seen, done = [], []
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    task = host.run_task("job", frames_work(10, seen), on_done=done.append, cleanup=scratch)
    nuke._pump(until=lambda: task.done)
    assert [n for _, n in seen] == [1001, 1002, 1003]   # the 3rd cancel check is true: stop after frame 3
    assert task.cancelled and done == [] and nuke._calls("message") == []
    assert not scratch.exists()


def test_gui_error_is_shown_and_logged(nuke, caplog):
    caplog.errors_expected = True

    def work(progress):
        raise ImageError("plate.1002.exr: 3 non-finite values (NaN/Inf); first at x=1 y=2 channel=0")

    task = host.run_task("ReelColorConvert1: convert", work, on_done=pytest.fail)
    nuke._pump(until=lambda: task.done)
    ((text,), _), = nuke._calls("message")
    assert text == ("ReelColorConvert1: convert failed: plate.1002.exr: 3 non-finite values (NaN/Inf); "
                    "first at x=1 y=2 channel=0")
    assert isinstance(task.error, ImageError)
    assert any(r.levelname == "ERROR" and "convert failed" in r.getMessage() for r in caplog.records)


def test_headless_runs_inline(headless, tmp_path):
    seen, done = [], []
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    task = host.run_task("job", frames_work(2, seen), on_done=done.append, cleanup=scratch)
    assert task.done and done == ["result"] and seen == [(True, 1001), (True, 1002)]
    assert headless._progress_tasks == [] and headless._calls("executeInMainThread") == []
    assert not scratch.exists()


def test_headless_errors_propagate(headless, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    def work(progress):
        raise ImageError("bad")

    with pytest.raises(ImageError, match="bad"):
        host.run_task("job", work, cleanup=scratch)
    assert not scratch.exists()


def test_report(nuke):
    host.report(ParameterError("ReelColorConvert1: connect an input first"))
    assert nuke._calls("message") == [(("ReelColorConvert1: connect an input first",), {})]
    host.report(host.TaskCancelled("cancelled"))
    assert len(nuke._calls("message")) == 1
    nuke._set_gui(False)
    with pytest.raises(ParameterError):
        host.report(ParameterError("x"))


def test_a_node_runs_one_job_at_a_time(nuke):
    release = threading.Event()
    first = host.run_task("job", lambda progress: release.wait(5), key="Group1.ReelColorConvert1")
    with pytest.raises(host.TaskBusy, match="Group1.ReelColorConvert1: the previous run"):
        host.check_idle("Group1.ReelColorConvert1")
    with pytest.raises(host.TaskBusy):
        host.run_task("job", lambda progress: None, key="Group1.ReelColorConvert1")
    host.check_idle("Group1.ReelColorConvert2")
    release.set()
    nuke._pump(until=lambda: first.done)
    host.check_idle("Group1.ReelColorConvert1")


# ----------------------------------------------------------------------------- several inputs, several results


def test_set_output_with_more_files(started, tmp_path):
    nuke = started
    node = nuke.createNode("ReelAlign")
    host.set_output(node, tmp_path / "aligned" / "ref.####.exr", 1, 2, "aligned 2 of 2 frames",
                    files={"output_mask": (tmp_path / "mask" / "mask.####.exr", "Read_mask")})
    assert node["output_mask"].value() == (tmp_path / "mask" / "mask.####.exr").as_posix()
    assert node["output_residual"].value() == ""
    assert [a[0] for a, _ in nuke._calls("button.execute")] == ["ReelAlign1.Read_output.reload",
                                                                "ReelAlign1.Read_mask.reload"]
    with pytest.raises(ParameterError, match="no Read_gone node inside"):
        host.set_output(node, tmp_path / "x.####.exr", 1, 2, "", files={"output_mask": ("m.####.exr", "Read_gone")})


def test_an_input_beyond_the_gizmos_is_refused(node):
    with pytest.raises(ParameterError, match="no Input node for input 2 inside"):
        host.gather_input(node, input=1)


def test_must_redo_when_any_input_was_rendered(tmp_path):
    read = host.InputSequence("a.####.exr", (1,), "read", "Read1")
    rendered = host.InputSequence("b.####.exr", (1,), "render", "Grade1", temp_dir=str(tmp_path))
    assert not host.must_redo({"force": False}, read, read)
    assert host.must_redo({"force": False}, read, rendered)
    assert host.must_redo({"force": True}, read)


@pytest.mark.parametrize("gui", [True, False])
def test_on_error_runs_on_the_main_thread_and_every_cleanup_folder_goes(nuke, tmp_path, gui, caplog):
    caplog.errors_expected = True
    nuke._set_gui(gui)
    folders = [tmp_path / "a", tmp_path / "b"]
    for f in folders:
        f.mkdir()
    seen = []

    def work(progress):
        raise ImageError("frame 3 is broken")

    def on_error(exc):
        seen.append((str(exc), threading.current_thread() is threading.main_thread()))

    if gui:
        task = host.run_task("job", work, on_done=pytest.fail, on_error=on_error,
                             cleanup=(folders[0], None, folders[1]))
        nuke._pump(until=lambda: task.done)
        assert nuke._calls("message") == [(("job failed: frame 3 is broken",), {})]
    else:
        with pytest.raises(ImageError):
            host.run_task("job", work, on_done=pytest.fail, on_error=on_error,
                          cleanup=(folders[0], None, folders[1]))
    assert seen == [("frame 3 is broken", True)]
    assert not any(f.exists() for f in folders)
