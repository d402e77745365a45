"""run_dataset end to end on the real footage: outputs, resume per stage, refusals, CLI."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from tests.test_dataset_footage import make_footage


@pytest.fixture(scope="module")
def footage(tmp_path_factory):
    """reel_a.avi and reel_b.avi (see test_dataset_footage)."""
    return make_footage(tmp_path_factory.mktemp("footage"))


# small and fast: six frames per shot, no UMAP (its first call compiles for ~20 s)
PARAMS = {"extract_mode": "scene", "per_shot_budget": 6, "min_cluster_size": 4, "umap_components": 0,
          "caption_prefix": "rkfilm, ", "val_fraction": 0.25}


@pytest.fixture(scope="module")
def built(footage, tmp_path_factory):
    from core.dataset import run_dataset

    out = tmp_path_factory.mktemp("ds") / "out"
    seen = []
    summary = run_dataset(footage.videos, out, PARAMS, progress=lambda s, d, t: seen.append(s))
    return out, summary, seen


def _json(path):
    return json.loads(path.read_text("utf-8"))


def test_every_stage_runs_and_reports(built):
    from core.dataset import STAGES

    out, summary, seen = built
    assert list(summary) == list(STAGES) and all(v["status"] == "done" for v in summary.values())
    assert list(dict.fromkeys(seen)) == list(STAGES)
    assert summary["shots"]["shots"] == 12 and summary["extract"]["frames"] == 72
    for stage in STAGES:
        m = _json(out / {"extract": "frames", "assemble": "dataset"}.get(stage, stage) / "manifest.json")
        assert m["status"] == "done" and m["config_hash"] == summary[stage]["config_hash"]
    assert _json(out / "manifest.json")["inputs"]  # footage with sha256


def test_every_extracted_frame_is_accounted_for(built, footage):
    out, summary, _ = built
    extracted = {r["id"] for r in _json(out / "frames" / "frames.json")["frames"]}
    meta = _json(out / "dataset" / "metadata.json")
    in_set = {m["id"] for m in meta["frames"]}
    with open(out / "dataset" / "report" / "rejections.csv", newline="") as fh:
        rejected = list(csv.DictReader(fh))
    assert in_set | {r["id"] for r in rejected} == extracted and not in_set & {r["id"] for r in rejected}
    assert summary["assemble"]["rejected"] == len(extracted - in_set)  # frames, not reasons
    reasons = {(r["stage"], r["reason"]) for r in rejected}
    assert ("filter", "blur") in reasons and ("dedup", "duplicate_exact") in reasons
    assert ("dedup", "duplicate_phash_ssim") in reasons and ("dedup", "duplicate_embedding") in reasons
    # reel_b's heavily blurred first shot (frames 0-23) is gone, every frame of it for blur
    blur_shot = [r for r in rejected if r["id"].startswith("reel_b_f0000") and int(r["id"][-6:]) < 24]
    assert len(blur_shot) == 6 and {r["reason"] for r in blur_shot} == {"blur"}
    # the report repeats the counts
    md = (out / "dataset" / "report" / "report.md").read_text()
    assert "| filter | 72 |" in md and "duplicate_exact" in md


def test_dataset_files_captions_and_split_by_shot(built):
    out, summary, _ = built
    ds = out / "dataset"
    meta = _json(ds / "metadata.json")
    assert meta["format"] == "reelkit.dataset/1" and meta["leaks"] == []
    for m in meta["frames"]:
        assert (ds / m["image"]).is_file()
        text = (ds / m["caption_file"]).read_text("utf-8")
        assert text == m["caption"]["final_caption"] + "\n" and text.startswith("rkfilm, ")
    splits = {}
    for m in meta["frames"]:
        splits.setdefault(m["shot"], set()).add(m["split"])
    assert all(len(s) == 1 for s in splits.values())
    assert {m["shot"] for m in meta["frames"] if m["split"] == "val"} == set(meta["val_shots"]) != set()
    assert sorted((ds / "train.txt").read_text().split()) == sorted(m["image"] for m in meta["frames"]
                                                                    if m["split"] == "train")
    report = _json(ds / "cluster_report.json")["clusters"]
    assert sum(c["size"] for c in report) == len(meta["frames"]) and report[-1]["id"] == -1
    import cv2

    plot = cv2.imread(str(ds / "report" / "clusters.png"))
    assert plot.shape == (720, 960, 3) and plot.std() > 5


def test_cluster_document_has_the_documented_shape(built):
    from core.dataset.cluster import read_clusters

    out, _, _ = built
    doc = read_clusters(out / "cluster" / "clusters.json")
    assert doc["format"] == "reelkit.clusters/1"
    ids = [c["id"] for c in doc["clusters"]]
    assert ids[-1] == -1 and ids[:-1] == sorted(ids[:-1])
    for c in doc["clusters"]:
        assert c["size"] == sum(f["cluster"] == c["id"] for f in doc["frames"])
        assert set(c["exemplars"]) <= {f["id"] for f in doc["frames"] if f["cluster"] == c["id"] and f["exemplar"]}
    f = doc["frames"][0]
    assert {"id", "path", "video", "shot", "frame", "cluster", "probability", "outlier_score", "exemplar", "xy",
            "tags"} <= set(f)
    assert (out / f["path"]).is_file()


def test_second_run_is_up_to_date_and_a_caption_change_redoes_only_caption_and_assemble(built, footage, tmp_path):
    from core.dataset import run_dataset

    src, _, _ = built
    out = tmp_path / "out"
    shutil.copytree(src, out)
    again = run_dataset(footage.videos, out, PARAMS)
    assert {v["status"] for v in again.values()} == {"up to date"}
    shots_mtime = (out / "shots" / "manifest.json").stat().st_mtime_ns
    changed = run_dataset(footage.videos, out, {**PARAMS, "caption_prefix": "zz9, "})
    assert [s for s, v in changed.items() if v["status"] == "done"] == ["caption", "assemble"]
    assert (out / "shots" / "manifest.json").stat().st_mtime_ns == shots_mtime
    first = _json(out / "dataset" / "metadata.json")["frames"][0]
    assert (out / "dataset" / first["caption_file"]).read_text().startswith("zz9, ")
    # a filter change redoes the filter and everything after it, not shots or extraction
    redo = run_dataset(footage.videos, out, {**PARAMS, "blur_threshold": 90.0})
    assert [s for s, v in redo.items() if v["status"] == "done"] == ["filter", "embed", "dedup", "cluster",
                                                                     "caption", "assemble"]
    assert redo["embed"]["computed"] == 0  # every vector came from the cache


def test_kohya_layout_and_an_interrupted_extraction_resumes(footage, tmp_path):
    from core.dataset import run_dataset

    out = tmp_path / "out"
    calls = []

    def stop_in_second_video(stage, done, total):
        calls.append((stage, done))
        if stage == "extract" and done > 50:  # reel_a gives 48 frames
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_dataset(footage.videos, out, PARAMS, progress=stop_in_second_video)
    m = _json(out / "frames" / "manifest.json")
    assert m["status"] == "failed" and list(m["frames"]) == ["reel_a"]
    summary = run_dataset(footage.videos, out, {**PARAMS, "layout": "kohya"}, stages=["extract"])
    m = _json(out / "frames" / "manifest.json")
    assert m["frames"]["reel_a"].get("resumed") and not m["frames"]["reel_b"].get("resumed")
    summary = run_dataset(footage.videos, out, {**PARAMS, "layout": "kohya"})
    assert summary["shots"]["status"] == summary["extract"]["status"] == "up to date"
    ds = out / "dataset"
    meta = _json(ds / "metadata.json")
    for m in meta["frames"]:
        folder = m["image"].rsplit("/", 1)[0]
        assert folder.startswith(f"{m['split']}/10_") and (ds / m["image"]).with_suffix(".txt").is_file()
    assert not (ds / "images").exists()


def test_refusals_and_stage_order(footage, tmp_path):
    from core.dataset import run_dataset
    from core.errors import ImageReadError, OutputExistsError, ParameterError

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="notes.txt"):
        run_dataset(footage.videos, foreign, PARAMS)
    with pytest.raises(ParameterError, match="unknown"):
        run_dataset(footage.videos, tmp_path / "x", PARAMS, stages=["shots", "upscale"])
    with pytest.raises(ParameterError, match="blur_treshold"):
        run_dataset(footage.videos, tmp_path / "x", {"blur_treshold": 3})
    with pytest.raises(ImageReadError, match="run the stage"):  # filter without extraction
        run_dataset(footage.videos, tmp_path / "y", PARAMS, stages=["shots", "filter"])
    out = tmp_path / "z"
    run_dataset(footage.videos[:1], out, PARAMS, stages=["shots"])
    with pytest.raises(OutputExistsError, match="other footage"):
        run_dataset(footage.videos[1:], out, PARAMS, stages=["shots"])
    assert run_dataset(footage.videos[1:], out, PARAMS, stages=["shots"], force=True)["shots"]["videos"] == 1
    # adding a video to the same footage is allowed; the video already done is not detected again
    assert run_dataset(footage.videos, out, PARAMS, stages=["shots"])["shots"]["videos"] == 2
    frames = _json(out / "shots" / "manifest.json")["frames"]
    assert frames["reel_b"].get("resumed") and not frames["reel_a"].get("resumed")


def test_status_marks_stages_built_on_older_results_as_stale(built, footage, tmp_path):
    from core.dataset import dataset_status, run_dataset

    src, _, _ = built
    out = tmp_path / "out"
    shutil.copytree(src, out)
    run_dataset(footage.videos, out, {**PARAMS, "min_cluster_size": 5}, stages=["cluster"])
    rows = {r["stage"]: r for r in dataset_status(out)}
    status = {stage: r["status"] for stage, r in rows.items()}
    assert status["cluster"] == "done" and status["caption"] == status["assemble"] == "stale"
    assert status["shots"] == status["dedup"] == "done"
    # why: caption was built on the cluster stage before it was redone; assemble on a stale caption
    assert (rows["caption"]["reason"], rows["assemble"]["reason"]) == ("stage cluster was redone since",
                                                                       "stage caption is stale")
    assert "reason" not in rows["cluster"]


def test_a_run_of_some_stages_keeps_every_other_stage_in_the_run_manifest(built, footage, tmp_path):
    """Nothing lost: re-running one stage updates its entry in the run's manifest.json and leaves every
    other stage's entry as the full run wrote it (found this session: the run's manifest was saved before
    the earlier stages were read back, so a ``--stages cluster`` run kept cluster's entry only)."""
    from core.dataset import STAGES, run_dataset

    src, summary, _ = built
    out = tmp_path / "out"
    shutil.copytree(src, out)
    before = _json(out / "manifest.json")["stages"]
    assert list(before) == list(STAGES)
    assert {s: e["config_hash"] for s, e in before.items()} == {s: v["config_hash"] for s, v in summary.items()}
    again = run_dataset(footage.videos, out, {**PARAMS, "min_cluster_size": 5}, stages=["cluster"])
    after = _json(out / "manifest.json")["stages"]
    assert list(after) == list(STAGES)
    assert after["cluster"]["config_hash"] == again["cluster"]["config_hash"] != before["cluster"]["config_hash"]
    assert after["cluster"]["counts"] == _json(out / "cluster" / "manifest.json")["counts"]
    for stage in STAGES:
        if stage != "cluster":
            assert json.dumps(after[stage]) == json.dumps(before[stage]), stage
    # a full run then redoes the stages built on the old clusters; the up-to-date ones keep their entries
    full = run_dataset(footage.videos, out, {**PARAMS, "min_cluster_size": 5})
    assert [s for s, v in full.items() if v["status"] == "done"] == ["caption", "assemble"]
    last = _json(out / "manifest.json")["stages"]
    assert {s: e["config_hash"] for s, e in last.items()} == {s: v["config_hash"] for s, v in full.items()}
    assert all(json.dumps(last[s]) == json.dumps(after[s]) for s in STAGES if full[s]["status"] == "up to date")


def test_a_forced_run_that_ends_early_drops_the_entries_of_the_stage_folders_it_cleared(built, footage, tmp_path):
    """A forced full run empties every stage folder first; when its filter then rejects every frame, the
    run's manifest holds shots, extract and filter only (not the old entries of folders no longer there)."""
    from core.dataset import run_dataset
    from core.errors import EmptyResultError

    src, _, _ = built
    out = tmp_path / "out"
    shutil.copytree(src, out)
    with pytest.raises(EmptyResultError, match="filter: all 72 frames rejected"):
        run_dataset(footage.videos, out, {**PARAMS, "blur_threshold": 1e6}, force=True)
    entries = _json(out / "manifest.json")["stages"]
    assert list(entries) == ["shots", "extract", "filter"] and entries["filter"]["counts"]["kept"] == 0
    assert not (out / "embed").exists()


def test_review_decisions_are_applied(built, footage, tmp_path):
    review = pytest.importorskip("core.dataset.review")
    from core.dataset import run_dataset

    src, _, _ = built
    out = tmp_path / "out"
    shutil.copytree(src, out)
    model = review.ReviewModel(review.load_clusters(out))
    first = model.clusters.cluster_ids()[0]
    members = model.clusters.members(first)
    model.rename(first, "eileen_collins")
    model.tag_cluster(first, "outfit:white spacesuit")
    model.reject([members[0]], "soft focus")
    model.save_decisions(out / "review" / "decisions.json")
    summary = run_dataset(footage.videos, out, PARAMS)
    assert summary["cluster"]["status"] == "up to date"
    assert summary["caption"]["status"] == summary["assemble"]["status"] == "done"
    meta = _json(out / "dataset" / "metadata.json")
    named = [m for m in meta["frames"] if m["cluster_name"] == "eileen_collins"]
    assert len(named) == len(members) - 1 and members[0] not in {m["id"] for m in meta["frames"]}
    assert all(m["caption"]["final_caption"].startswith("rkfilm, eileen collins, white spacesuit, ")
               for m in named)
    with open(out / "dataset" / "report" / "rejections.csv", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["id"] == members[0])
    assert (row["stage"], row["reason"], row["detail"]) == ("review", "excluded", "soft focus")


def test_cli_run_and_status(footage, tmp_path, capsys):
    from core.cli.main import main

    out = tmp_path / "cli"
    args = ["dataset", "run", *map(str, footage.videos), "--output-dir", str(out), "--quiet",
            "--extract-mode", "scene", "--per-shot-budget", "3", "--umap-components", "0", "--min-cluster-size", "3"]
    assert main(args) == 0
    assert main(["dataset", "status", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.count("done") >= 8 and "assemble" in text
    assert main(["dataset", "run", str(footage.videos[0]), "--output-dir", str(out), "--quiet"]) == 1
    assert "other footage" in capsys.readouterr().err
    assert np.all([(out / "dataset" / "metadata.json").is_file()])
