"""Kill reelkit commands at random points and check that nothing is lost (issue 15, the closing runs).

    python benchmarks/fault_injection.py [--kills 3] [--seed 0] [--commands convert,degrade,...]
                                         [--signals KILL,TERM,INT] [--work DIR]

Inputs, made first from scikit-image's photos (no synthetic pixels): a
12-frame ACEScg float EXR sequence, a slow pan over ``coffee`` (360 x 540,
frames 1001-1012), and for ``dataset run`` a 36-frame AVI (three 12-frame
shots: pans over ``coffee``, ``chelsea`` and ``astronaut``, 160 x 240).

Commands, each a real subprocess (``python -m core.cli.main ...``):
``convert`` (EXR -> 16-bit sRGB PNG), ``degrade`` (``faded_16mm``, seed 7),
``infer`` (the shipped ``film_restore`` model, untiled),
``palette encode`` (K = 6) and ``dataset run`` (scene extraction, no UMAP).

For every command: one uninterrupted run is the reference. Then, for each
signal (SIGKILL, SIGTERM, SIGINT) ``--kills`` times: the command is started
in a fresh folder and the signal sent at a seeded random point (once a
random number of its units exist — frames, or dataset stages — plus a
random delay of up to one unit's share of the reference run's time); then it is run again, unchanged. Checked:

- exit status of the killed run: -9 for SIGKILL, 143 for SIGTERM, 130 for
  SIGINT (a run that finished before the signal arrived counts as
  ``finished first`` and is not a failure);
- complete or absent: every output file on disk just after the kill (not
  manifests, journals, locks or temporary files) holds the reference's bytes;
- resumed: the re-run exits 0 and makes only what was missing — per-frame
  commands make again at most the one frame in flight (frames on disk and
  recorded are adopted); ``dataset run`` redoes no stage that was done;
- byte-identical: after the re-run every output equals the reference's;
- temp left: temporary files (``.NAME.XXXXXXXX.tmp.EXT``), ``.building`` /
  ``.old`` folders, journals and locks left after the re-run (must be 0).
  ``left after kill`` counts them just after the kill: expected after
  SIGKILL; after SIGTERM / SIGINT each is listed as a NOTE.

Prints a table (command x signal: runs, finished first, exit status ok,
complete-or-absent ok, resumed ok, byte-identical, left after kill, temp
left) and exits 1 if any check failed; about 10 minutes with the defaults
on 2 shared cores. :func:`inject` is the check of one kill (the test
``tests/test_fault_injection.py`` runs it for one command and one kill).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FRAMES = 12
FIRST = 1001
SIGNALS = {"KILL": signal.SIGKILL, "TERM": signal.SIGTERM, "INT": signal.SIGINT}
#: Exit status of a run stopped by each signal (SIGKILL: killed by the system; the others: reelkit's own).
EXPECTED_CODE = {signal.SIGKILL: -signal.SIGKILL, signal.SIGTERM: 143, signal.SIGINT: 130}
# what core.io.atomic.atomic_path names its temporary files, and core.io.atomic.building_dir its folders
_TEMP = re.compile(r"^\..*\.[a-z0-9_]{8}\.tmp(\.[^.]*)?$|^\..*\.(building|old)$")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


# -- inputs -------------------------------------------------------------------------------------------


def _pan(photo, n: int, height: int = 360, width: int = 540):
    """``n`` crops of ``photo`` (HWC) sliding right by 4 px a frame: a slow camera pan."""
    return [photo[20:20 + height, 4 * i:4 * i + width] for i in range(n)]


def make_inputs(folder: Path, frames: int = FRAMES) -> dict[str, str]:
    """The plate (EXR sequence pattern, ``frames`` long) and the footage (AVI) described in the module doc."""
    import cv2
    import numpy as np
    from skimage import data

    from core import color, io

    folder.mkdir(parents=True, exist_ok=True)
    coffee = data.coffee().astype(np.float32) / 255.0  # sRGB-encoded 0..1
    pattern = str(folder / "plate.####.exr")
    for i, crop in enumerate(_pan(coffee, frames)):
        linear = color.convert_frame(io.Frame(np.ascontiguousarray(crop), "srgb"), "ACEScg")
        io.write_image(io.sequence_path(pattern, FIRST + i), linear, pixel_type="float", overwrite=True)
    video = folder / "footage.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 24, (240, 160))
    for photo in (data.coffee(), data.chelsea(), data.astronaut()):
        for crop in _pan(photo, FRAMES, 160, 240):
            writer.write(np.ascontiguousarray(crop[..., ::-1]))
    writer.release()
    return {"plate": pattern, "footage": str(video), "frames": frames}


# -- commands -----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Command:
    """A command under test: its argv for an output folder, and how to count its finished units."""

    name: str
    argv: Callable[[Path], list[str]]
    units: Callable[[Path], int]  # finished units in an output folder (frames, or dataset stages)
    total: int
    per_frame: bool = True


def _count(glob: str) -> Callable[[Path], int]:
    return lambda out: len(list(out.glob(glob)))


def _stages_done(out: Path) -> int:
    n = 0
    for m in out.glob("*/manifest.json"):
        try:
            n += json.loads(m.read_text("utf-8")).get("status") == "done"
        except (OSError, ValueError):
            pass
    return n


def commands(inputs: dict) -> dict[str, Command]:
    from core.dataset.params import STAGES

    cli = [sys.executable, "-m", "core.cli.main"]
    plate, footage, n = inputs["plate"], inputs["footage"], inputs["frames"]
    return {c.name: c for c in (
        Command("convert", lambda o: [*cli, "convert", plate, "c.####.png", "--to", "srgb", "--bit-depth", "16",
                                      "-o", str(o), "-q"], _count("c.*.png"), n),
        Command("degrade", lambda o: [*cli, "degrade", plate, "d.####.exr", "--preset", "faded_16mm", "--seed", "7",
                                      "-o", str(o), "-q"], _count("d.*.exr"), n),
        Command("infer", lambda o: [*cli, "infer", "--model", "film_restore", plate, "r.####.exr", "--tile", "0",
                                    "-o", str(o), "-q"], _count("r.*.exr"), n),
        Command("palette encode", lambda o: [*cli, "palette", "encode", plate, "--k", "6", "-o", str(o), "-q"],
                _count("plate.*.exr"), n),
        Command("dataset run", lambda o: [*cli, "dataset", "run", footage, "-o", str(o), "-q",
                                          "--extract-mode", "scene", "--per-shot-budget", "4",
                                          "--umap-components", "0", "--min-cluster-size", "3"],
                _stages_done, len(STAGES), per_frame=False),
    )}


# -- one kill -----------------------------------------------------------------------------------------


def _bookkeeping(rel: Path) -> bool:
    """Manifests, journals, locks, temporary files: not outputs to compare."""
    return any(p.startswith(".") for p in rel.parts) or rel.name.startswith("manifest")


def outputs(folder: Path) -> dict[str, bytes]:
    """Every output file under ``folder`` by relative path (bookkeeping left out)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not _bookkeeping(p.relative_to(folder))}


def leftovers(folder: Path) -> list[str]:
    """Temporary files and folders, journals and locks under ``folder``."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if _TEMP.match(p.name) or p.suffix in (".journal", ".lock"))


def run_reference(cmd: Command, out: Path) -> dict[str, bytes]:
    res = subprocess.run(cmd.argv(out), env=ENV, cwd=REPO, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{cmd.name}: reference run failed ({res.returncode}): {res.stderr.strip()[-400:]}")
    return outputs(out)


@dataclasses.dataclass
class Result:
    code: int
    finished_first: bool
    code_ok: bool
    complete_ok: bool
    resumed_ok: bool
    identical: bool
    left_after_kill: list[str]
    temps_left: list[str]
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.code_ok and self.complete_ok and self.resumed_ok and self.identical and not self.temps_left


def _status(out: Path) -> str | None:
    """The ``status`` of the job's manifest in ``out`` (``None``: none, or unreadable)."""
    try:
        return json.loads((out / "manifest.json").read_text("utf-8")).get("status")
    except (OSError, ValueError):
        return None


def _per_frame_resume(out: Path, on_disk: int, total: int) -> tuple[bool, str]:
    """Made again at most the frame in flight: adopted >= frames on disk after the kill - 1."""
    frames = json.loads((out / "manifest.json").read_text("utf-8"))["frames"]
    resumed = sum(1 for r in frames.values() if r.get("resumed"))
    ok = len(frames) == total and resumed >= on_disk - 1 and all(r.get("status") == "done" for r in frames.values())
    return ok, f"{on_disk} on disk after the kill, {resumed} adopted, {total - resumed} made"


def inject(cmd: Command, out: Path, sig: int, after_units: int, delay: float,
           reference: dict[str, bytes]) -> Result:
    """Start ``cmd`` into ``out``, send ``sig`` once ``after_units`` units exist plus ``delay`` seconds,
    then run it again; check everything the module doc lists."""
    job = subprocess.Popen(cmd.argv(out), env=ENV, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
    deadline = time.monotonic() + 300
    # the job is running (its lock taken: reelkit's signal handlers are in place) and has made enough units
    while job.poll() is None and time.monotonic() < deadline and not (
            (out / ".reelkit.lock").exists() and cmd.units(out) >= after_units):
        time.sleep(0.005)
    time.sleep(delay)
    if job.poll() is None:
        job.send_signal(sig)
    code = job.wait(timeout=300)
    err = job.stderr.read().strip()
    # finished first: exit 0, or the signal landed while Python was exiting after the job was done
    # (its manifest says done and reelkit printed nothing: the interpreter's own handler ended it)
    finished_first = code == 0 or (code == -sig and not err and _status(out) == "done")
    code_ok = finished_first or code == EXPECTED_CODE[sig]
    note = "" if code_ok else f"exit {code}: {err[-300:]}"
    after_kill = outputs(out) if out.is_dir() else {}
    complete_ok = all(reference.get(name) == data for name, data in after_kill.items())
    if not complete_ok:
        note += f" incomplete or foreign after the kill: {[n for n, d in after_kill.items() if reference.get(n) != d]}"
    after_kill_left = leftovers(out) if out.is_dir() else []
    on_disk = cmd.units(out) if out.is_dir() else 0
    stage_manifests = {m: m.read_bytes() for m in out.glob("*/manifest.json")} if out.is_dir() else {}
    done_before = {m for m, b in stage_manifests.items() if b'"status": "done"' in b}
    res = subprocess.run(cmd.argv(out), env=ENV, cwd=REPO, capture_output=True, text=True)
    resumed_ok = res.returncode == 0
    if not resumed_ok:
        note += f" re-run exit {res.returncode}: {res.stderr.strip()[-300:]}"
    elif cmd.per_frame:
        resumed_ok, how = _per_frame_resume(out, on_disk, cmd.total)
        if not resumed_ok:
            note += f" re-run: {how}"
    else:
        redone = sorted(m.parent.name for m in done_before if m.read_bytes() != stage_manifests[m])
        resumed_ok = not redone
        if redone:
            note += f" re-run redid done stages {redone}"
    final = outputs(out)
    identical = final == reference
    if not identical:
        differ = sorted(n for n in set(final) | set(reference) if final.get(n) != reference.get(n))
        note += f" differ from the reference: {differ[:5]}{' ...' if len(differ) > 5 else ''}"
    return Result(code, finished_first, code_ok, complete_ok, resumed_ok, identical, after_kill_left,
                  leftovers(out), note.strip())


# -- the table ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=3, help="kills per signal per command (default 3)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill points (default 0)")
    ap.add_argument("--commands", default="convert,degrade,infer,palette encode,dataset run")
    ap.add_argument("--signals", default="KILL,TERM,INT")
    ap.add_argument("--work", help="working folder (default: a temporary one, removed at the end)")
    args = ap.parse_args(argv)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="reelkit-faults-"))
    rng = random.Random(args.seed)
    try:
        cmds = commands(make_inputs(work / "inputs"))
        rows, failures, observed = [], [], []
        for name in [c.strip() for c in args.commands.split(",")]:
            cmd = cmds[name]
            t0 = time.perf_counter()
            reference = run_reference(cmd, work / name.replace(" ", "_") / "reference")
            seconds = time.perf_counter() - t0
            for sname in args.signals.split(","):
                sig = SIGNALS[sname]
                results = []
                for k in range(args.kills):
                    # a random unit, then a random moment within the next unit's time
                    after, delay = rng.randrange(cmd.total), rng.uniform(0.0, seconds / cmd.total)
                    out = work / name.replace(" ", "_") / f"{sname}{k}"
                    r = inject(cmd, out, sig, after, delay, reference)
                    results.append(r)
                    where = f"{name} SIG{sname} #{k} (after {after} units + {delay:.2f} s)"
                    if not r.ok:
                        failures.append(f"{where}: {r.note}")
                    if r.left_after_kill and sig != signal.SIGKILL:  # a clean stop should leave nothing behind
                        observed.append(f"{where}: left after the stop: {r.left_after_kill}")
                    shutil.rmtree(out, ignore_errors=True)
                rows.append((name, f"SIG{sname}", len(results), sum(r.finished_first for r in results),
                             sum(r.code_ok for r in results), sum(r.complete_ok for r in results),
                             sum(r.resumed_ok for r in results), sum(r.identical for r in results),
                             sum(len(r.left_after_kill) for r in results), sum(len(r.temps_left) for r in results),
                             seconds))
        head = ("command", "signal", "runs", "finished first", "exit ok", "complete/absent", "resumed ok",
                "byte-identical", "left after kill", "temp left", "ref s")
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join("---" for _ in head) + "|")
        for row in rows:
            print("| " + " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in row) + " |")
        for f in failures:
            print("FAILED:", f)
        for o in observed:
            print("NOTE:", o)
        return 1 if failures else 0
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
