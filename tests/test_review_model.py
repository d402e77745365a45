"""The review model (core.dataset.review): every edit against a hand-worked reference, undo/redo,
decisions file round trip and stale detection.

The small hand-made set (``small``) has stage clusters 0, 1, 2 and noise:

====  ==========================  =========================
label frames (id: probability)    exemplars (rank)
====  ==========================  =========================
0     a0 .9, a1 .5, a2 .7, a3 .6  a1 (0), a3 (1)
1     b0 .8, b1 .9, b2 .4         b2 (0)
2     c0 1.0, c1 .3               none
-1    n0, n1                      none
====  ==========================  =========================

so the reference order of cluster 0 is a1, a3 (exemplars by rank), then
a0, a2 (by probability, .9 before .7).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.dataset import review as rv
from core.dataset.review import NOISE, ClusterSet, FrameInfo, ReviewModel
from core.errors import FormatError, ImageReadError, ParameterError, ReelkitError


def _frames():
    spec = {
        "a0": (0, .9, None), "a1": (0, .5, 0), "a2": (0, .7, None), "a3": (0, .6, 1),
        "b0": (1, .8, None), "b1": (1, .9, None), "b2": (1, .4, 0),
        "c0": (2, 1.0, None), "c1": (2, .3, None),
        "n0": (NOISE, 0.0, None), "n1": (NOISE, 0.0, None),
    }
    return [FrameInfo(fid, f"frames/{fid}.png", label, prob, 1 - prob, ex, shot=f"s{label}")
            for fid, (label, prob, ex) in spec.items()]


@pytest.fixture
def small():
    return ClusterSet(_frames(), root="/data/set")


@pytest.fixture
def model(small):
    return ReviewModel(small)


def members(model):
    return {c: list(model.clusters.members(c)) for c in model.clusters.cluster_ids()}


BASE = {0: ["a1", "a3", "a0", "a2"], 1: ["b2", "b1", "b0"], 2: ["c0", "c1"], NOISE: ["n0", "n1"]}


# ----------------------------------------------------------------------------- the data


def test_stage_output_as_listed(model):
    cs = model.clusters
    assert cs.cluster_ids() == [0, 1, 2, NOISE]
    assert members(model) == BASE
    v = cs.cluster(0)
    assert (v.name, v.size, v.exemplars, v.created, v.is_noise) == ("cluster_000", 4, 2, False, False)
    assert cs.name(NOISE) == "noise" and cs.cluster(NOISE).is_noise
    assert cs.image_path("a0") == Path("/data/set/frames/a0.png")
    assert NOISE == __import__("core.dataset.cluster", fromlist=["NOISE"]).NOISE
    assert not model.dirty and not model.can_undo and not model.can_redo


def test_base_hash_is_sha256_of_ids_and_labels(small):
    import hashlib

    blob = json.dumps([[f.id, f.label] for f in sorted(_frames(), key=lambda f: f.id)], separators=(",", ":"))
    assert small.base_hash() == hashlib.sha256(blob.encode()).hexdigest()
    relabelled = [FrameInfo(f.id, f.path, 1 if f.id == "a0" else f.label) for f in _frames()]
    assert ClusterSet(relabelled).base_hash() != small.base_hash()


def test_duplicate_ids_and_bad_records_are_refused():
    with pytest.raises(ParameterError, match="'a0' appears twice"):
        ClusterSet(_frames() + [FrameInfo("a0", "x.png", 1)])
    with pytest.raises(ParameterError, match="record 0 has no 'id' or 'path'"):
        rv.clusters_from_records([{"id": "x"}])
    with pytest.raises(ParameterError, match="frame 'x' label: expected an integer"):
        rv.clusters_from_records([{"id": "x", "path": "x.png", "label": 1.5}])


# ----------------------------------------------------------------------------- edits, each against a reference


def test_merge(model):
    assert model.merge([1, 2], 0) == 0
    assert model.clusters.cluster_ids() == [0, NOISE]
    # exemplars first (a1 rank 0, b2 rank 0, a3 rank 1), then probability: c0 1.0, a0 .9, b1 .9, b0 .8, ...
    assert members(model) == {0: ["a1", "b2", "a3", "c0", "a0", "b1", "b0", "a2", "c1"], NOISE: ["n0", "n1"]}
    assert model.clusters.edits["merged"] == {1: 0, 2: 0}
    assert model.clusters.edits["assign"] == {}  # merges act on labels, not frame by frame
    assert model.undo_text == "merge 1, 2 into 0"


def test_merge_refusals(model):
    with pytest.raises(ParameterError, match="noise bucket cannot be merged"):
        model.merge([NOISE], 0)
    with pytest.raises(ParameterError, match="no cluster 7"):
        model.merge([1], 7)
    with pytest.raises(ParameterError, match="other than the target"):
        model.merge([0], 0)
    model.merge([1], 0)
    with pytest.raises(ParameterError, match=r"no cluster 1 \(clusters now: 0, 2, -1\)"):
        model.merge([2], 1)
    assert not model.can_redo and model.undo_text == "merge 1 into 0"  # refusals recorded nothing


def test_split(model):
    cid = model.split(["a0", "a2"])
    assert cid == 3 and model.clusters.name(3) == "cluster_003" and model.clusters.cluster(3).created
    assert members(model) == {0: ["a1", "a3"], 1: BASE[1], 2: BASE[2], 3: ["a0", "a2"], NOISE: BASE[NOISE]}
    assert model.clusters.edits["created"] == {3: 0}
    assert model.clusters.edits["assign"] == {"a0": 3, "a2": 3}
    assert model.split(["n1"], name="  red   coat ") == 4
    assert model.clusters.name(4) == "red coat" and model.clusters.edits["created"][4] == NOISE
    with pytest.raises(ParameterError, match="already named 'red coat'"):
        model.split(["n0"], name="RED COAT")
    with pytest.raises(ParameterError, match="no frames selected"):
        model.split([])
    with pytest.raises(ParameterError, match="no frame 'zz'"):
        model.split(["zz"])


def test_split_after_merge_and_merge_of_a_split(model):
    model.merge([1], 0)
    cid = model.split(["b1", "a0"])  # b1 came to 0 by the merge; a0 and b1 tie at .9: by id
    assert members(model)[cid] == ["a0", "b1"] and model.clusters.edits["created"][cid] == 0
    model.merge([2], cid)  # a stage cluster into a split-made one
    model.merge([cid], 0)  # ... and that one back: everything is cluster 0 again, no override left
    assert model.clusters.cluster_ids() == [0, NOISE]
    assert model.clusters.edits["assign"] == {} and model.clusters.edits["created"] == {}
    assert model.clusters.edits["merged"] == {1: 0, 2: 0}


def test_rename(model):
    model.rename(1, "  hero, close  ")
    assert model.clusters.name(1) == "hero, close"
    model.rename(1, "cluster_001")  # back to the default: no override left
    assert model.clusters.edits["names"] == {} and model.can_undo
    for bad, match in (("", "cannot be empty"), ("a\nb", "one line"), ("x" * 81, "at most 80"),
                       ("CLUSTER_002", "already named")):
        with pytest.raises(ParameterError, match=match):
            model.rename(1, bad)
    with pytest.raises(ParameterError, match="keeps its name"):
        model.rename(NOISE, "junk")


def test_move(model):
    model.move(["a0", "n0"], 2)
    assert members(model)[2] == ["c0", "a0", "c1", "n0"] and members(model)[NOISE] == ["n1"]
    model.move(["a0"], 0)  # back where its label puts it: the override goes
    assert model.clusters.edits["assign"] == {"n0": 2}
    model.move(["c1"], NOISE)
    assert model.clusters.cluster_of("c1") == NOISE
    model.merge([2], 1)  # n0, moved to 2, follows 2 into 1
    assert model.clusters.cluster_of("n0") == 1


def test_tags(model):
    model.tag_frames(["a0", "a1"], "closeup")
    model.tag_frames(["a0"], "closeup")  # already there: no command
    model.tag_cluster(0, "hero")
    assert model.undo_text == "tag cluster 0 'hero'"
    d = model.clusters.decision("a0")
    assert d.tags == ("hero", "closeup") and model.clusters.decision("a2").tags == ("hero",)
    model.untag_frames(["a1"], "closeup")
    assert model.clusters.edits["frame_tags"] == {"a0": ("closeup",)}
    model.untag_cluster(0, "hero")
    assert model.clusters.edits["cluster_tags"] == {}
    with pytest.raises(ParameterError, match="no commas"):
        model.tag_frames(["a0"], "a, b")
    with pytest.raises(ParameterError, match="cannot be empty"):
        model.tag_cluster(0, "  ")


def test_retag_is_one_edit(model):
    model.tag_frames(["a0", "a1"], "closeup")
    model.retag_frames(["a0", "b0"], add=["wide", "night"], remove=["closeup"])
    assert model.clusters.edits["frame_tags"] == {"a0": ("wide", "night"), "a1": ("closeup",),
                                                  "b0": ("wide", "night")}
    assert model.undo_text == "tag 2 frames +wide +night -closeup"
    model.set_cluster_tags(1, ["b", "a", "b"])
    assert model.clusters.cluster(1).tags == ("b", "a")
    model.undo()
    model.undo()
    assert model.clusters.edits["frame_tags"] == {"a0": ("closeup",), "a1": ("closeup",)}
    assert model.clusters.edits["cluster_tags"] == {}


def test_caption_fields(model):
    model.set_cluster_fields(0, {"character": "Ada", "outfit": "red coat"})
    model.set_frame_fields(["a0"], {"outfit": "blue coat", "camera": "close-up"})
    d = model.clusters.decision("a0")
    assert d.fields == {"character": "Ada", "outfit": "blue coat", "camera": "close-up"}
    assert model.clusters.decision("a1").fields == {"character": "Ada", "outfit": "red coat"}
    model.set_cluster_fields(0, {"outfit": ""})  # clears
    assert model.clusters.edits["cluster_fields"][0] == {"character": "Ada"}
    with pytest.raises(ParameterError, match="field name 'final caption' is not an identifier"):
        model.set_frame_fields(["a0"], {"final caption": "x"})


def test_reject_and_restore(model):
    model.reject(["a0", "c1"], "motion blur")
    d = model.clusters.decision("a0")
    assert d.rejected and d.reason == "motion blur" and d.cluster == 0
    assert model.clusters.cluster(2).rejected == 1 and "c1" in model.clusters.members(2)  # stays visible
    model.restore(["a0"])
    assert model.clusters.edits["rejected"] == {"c1": "motion blur"}
    model.reject(["b0"], "")
    assert model.clusters.edits["rejected"]["b0"] == "rejected in review"


# ----------------------------------------------------------------------------- undo / redo


def _script(m: ReviewModel):
    m.rename(0, "Ada")
    m.merge([2], 1)
    m.split(["b0", "c0"], name="wide")
    m.move(["n0"], 0)
    m.tag_frames(["a1", "b0"], "closeup")
    m.tag_cluster(1, "night")
    m.set_cluster_fields(0, {"character": "Ada"})
    m.set_frame_fields(["a1"], {"camera": "close-up"})
    m.reject(["c1"], "blurred")
    m.merge([3], 0)


def test_undo_redo_round_trip(model):
    states = [json.dumps(rv.decisions_of(model.clusters), sort_keys=True)]
    seen = []
    model.subscribe(lambda e, p: seen.append(e))
    m = model
    ops = [lambda: m.rename(0, "Ada"), lambda: m.merge([2], 1), lambda: m.split(["b0", "c0"], name="wide"),
           lambda: m.move(["n0"], 0), lambda: m.tag_frames(["a1", "b0"], "closeup"),
           lambda: m.tag_cluster(1, "night"), lambda: m.set_cluster_fields(0, {"character": "Ada"}),
           lambda: m.set_frame_fields(["a1"], {"camera": "close-up"}), lambda: m.reject(["c1"], "blurred"),
           lambda: m.merge([3], 0)]
    snapshots = [members(m)]
    for op in ops:
        op()
        states.append(json.dumps(rv.decisions_of(m.clusters), sort_keys=True))
        snapshots.append(members(m))
    assert seen == ["edit"] * len(ops)
    for i in range(len(ops), 0, -1):  # undo all the way, checking each state on the way
        m.undo()
        assert json.dumps(rv.decisions_of(m.clusters), sort_keys=True) == states[i - 1]
        assert members(m) == snapshots[i - 1]
    assert m.undo() is None and members(m) == BASE and not m.dirty
    for i in range(1, len(ops) + 1):
        m.redo()
        assert json.dumps(rv.decisions_of(m.clusters), sort_keys=True) == states[i]
    assert m.redo() is None
    m.undo()
    m.undo()
    m.rename(1, "b")  # a new edit drops the redo stack
    assert not m.can_redo and m.clusters.history[-1] == "rename 1 to 'b'"


def test_failed_edit_changes_nothing(model):
    model.split(["a0"], name="x")
    before = json.dumps(rv.decisions_of(model.clusters), sort_keys=True)
    with pytest.raises(ParameterError):
        model.split(["a1"], name="X")
    assert json.dumps(rv.decisions_of(model.clusters), sort_keys=True) == before
    assert model.clusters.cluster_ids() == [0, 1, 2, 3, NOISE]


# ----------------------------------------------------------------------------- the decisions file


def test_decisions_document_reference(model):
    _script(model)
    doc = model.decisions()
    assert doc["format"] == "reelkit.review/1"
    assert doc["base"] == {"hash": model.clusters.base_hash(), "frames": 11, "clusters": 3}
    assert doc["clusters"] == [
        {"id": 0, "name": "Ada", "fields": {"character": "Ada"}},
        {"id": 1, "tags": ["night"]},
        {"id": 2, "merged_into": 1},
    ]  # 3 (wide) was merged back into 0: it is gone
    assert doc["frames"] == [
        {"id": "a1", "tags": ["closeup"], "fields": {"camera": "close-up"}},
        {"id": "b0", "cluster": 0, "tags": ["closeup"]},
        {"id": "c0", "cluster": 0},
        {"id": "c1", "rejected": "blurred"},
        {"id": "n0", "cluster": 0},
    ]
    assert doc["history"][0] == "rename 0 to 'Ada'" and len(doc["history"]) == 10
    assert doc["summary"]["clusters"] == 2 and doc["summary"]["rejected"] == 1


def test_save_load_round_trip(model, tmp_path):
    _script(model)
    model.undo()  # keep the split cluster
    path = tmp_path / "set" / "review" / "decisions.json"
    assert model.dirty
    model.save_decisions(path)
    assert not model.dirty
    text = path.read_text()
    assert text == rv.dumps_decisions(model.decisions()) and text.endswith("}\n")
    again = rv.apply_decisions(ClusterSet(_frames()), rv.load_decisions(path))
    assert rv.dumps_decisions(rv.decisions_of(again)) == text  # same bytes back
    assert {c: list(again.members(c)) for c in again.cluster_ids()} == members(model)
    assert [again.decision(f) for f in again.frames] == model.clusters.decisions()
    # the saved file does not depend on the order of independent edits
    other = ReviewModel(ClusterSet(_frames()))
    other.reject(["c1"], "blurred")
    other.set_frame_fields(["a1"], {"camera": "close-up"})
    other.set_cluster_fields(0, {"character": "Ada"})
    other.tag_cluster(1, "night")
    other.tag_frames(["b0", "a1"], "closeup")
    other.move(["n0"], 0)
    other.merge([2], 1)
    other.split(["c0", "b0"], name="wide")
    other.rename(0, "Ada")
    a, b = rv.decisions_of(other.clusters), rv.decisions_of(model.clusters)
    a.pop("history"), b.pop("history")
    assert a == b


def test_model_load_decisions_and_open(tmp_path):
    root = tmp_path / "set"
    (root / "cluster").mkdir(parents=True)
    recs = [{"id": f.id, "path": f.path, "label": f.label, "probability": f.probability, "exemplar": f.exemplar}
            for f in _frames()]
    (root / "cluster" / "clusters.json").write_text(json.dumps({"frames": recs}))
    m = ReviewModel.open(root)
    assert m.clusters.root == root and members(m) == BASE and m.decisions_file == root / "review/decisions.json"
    _script(m)
    m.save_decisions()
    reopened = ReviewModel.open(root / "cluster" / "clusters.json")
    assert reopened.decisions() == m.decisions() and not reopened.dirty and not reopened.can_undo
    seen = []
    fresh = ReviewModel(rv.load_clusters(root))
    fresh.subscribe(lambda e, p: seen.append(e))
    assert fresh.load_decisions(root / "review/decisions.json") == [] and seen == ["reset"]
    assert fresh.decisions() == m.decisions()


def test_stale_decisions_are_detected(model, tmp_path):
    _script(model)
    model.undo()
    path = model.save_decisions(tmp_path / "decisions.json")
    # the cluster stage ran again: a0 went to noise, b0 and the whole of cluster 2 are gone
    rerun = [FrameInfo(f.id, f.path, NOISE if f.id == "a0" else f.label, f.probability, f.outlier_score, f.exemplar)
             for f in _frames() if f.id not in ("b0", "c0", "c1")]
    later = ClusterSet(rerun)
    problems = rv.check_decisions(later, rv.load_decisions(path))
    assert problems[0].startswith(f"made for cluster output {model.clusters.base_hash()[:12]}, this one is ")
    assert problems[1] == "3 frame(s) no longer in the cluster output: b0, c0, c1"
    assert problems[2] == "1 cluster(s) no longer in the cluster output: 2"
    with pytest.raises(rv.StaleDecisionsError, match=r"decisions\.json: stale: made for cluster output") as info:
        rv.apply_decisions(later, rv.load_decisions(path), source=str(path))
    assert isinstance(info.value, (ReelkitError, ValueError)) and "b0, c0, c1" in str(info.value)
    # not strict: what still applies is applied, the rest reported
    applied = rv.apply_decisions(later, rv.load_decisions(path), strict=False)
    assert applied.problems == problems
    assert applied.name(0) == "Ada" and applied.cluster_of("n0") == 0 and applied.name(3) == "wide"
    assert 2 not in applied.edits["merged"] and "b0" not in applied.edits["assign"]
    # same frames, same labels, other paths: not stale
    moved = ClusterSet([FrameInfo(f.id, "elsewhere/" + f.path, f.label) for f in _frames()])
    assert rv.check_decisions(moved, rv.load_decisions(path)) == []


def test_bad_decisions_files(tmp_path):
    p = tmp_path / "d.json"
    with pytest.raises(ImageReadError, match="no such review decisions file"):
        rv.load_decisions(p)
    p.write_text("{nope")
    with pytest.raises(ImageReadError, match="cannot read the review decisions"):
        rv.load_decisions(p)
    p.write_text(json.dumps({"format": "reelkit.review/9", "base": {"hash": "x"}}))
    with pytest.raises(FormatError, match=r"format reelkit.review/9 is newer than this reelkit reads "
                                          r"\(reelkit.review/1\)"):
        rv.load_decisions(p)
    p.write_text(json.dumps({"format": "reelkit.review/1"}))
    with pytest.raises(ParameterError, match="no base hash"):
        rv.load_decisions(p)
    with pytest.raises(ImageReadError, match="no cluster output here"):
        rv.load_clusters(tmp_path)


# ----------------------------------------------------------------------------- from the real cluster stage


def test_from_a_real_cluster_result():
    """Records + a ClusterResult of core.dataset.cluster on separable embeddings: labels, exemplar ranks."""
    from core.dataset.cluster import cluster_embeddings

    rng = np.random.default_rng(0)
    centres = np.eye(6, dtype=np.float32)[:3] * 4
    emb = np.concatenate([c + rng.normal(0, .05, (15, 6)).astype(np.float32) for c in centres])
    result = cluster_embeddings(emb, umap_components=0, min_cluster_size=5, seed=0)
    records = [{"id": f"f{i:03d}", "path": f"frames/f{i:03d}.png", "shot": f"s{i // 15}"} for i in range(45)]
    cs = rv.clusters_from_result(records, result, root="/x")
    assert len(cs.cluster_ids()) - 1 == result.n_clusters == 3
    for label, rows in result.exemplars.items():
        assert list(cs.members(label)[: len(rows)]) == [records[r]["id"] for r in rows]  # exemplars first
    assert {cs.cluster_of(f"f{i:03d}") for i in range(15)} == {int(result.labels[0])}
    with pytest.raises(ParameterError, match="3 labels for 45 frame records"):
        rv.clusters_from_result(records, type(result)(result.labels[:3], *[None] * 6))


def test_reads_the_cluster_stage_document(tmp_path):
    """``clusters_document`` (the cluster stage's writer) -> ``cluster/clusters.json`` -> load_clusters:
    labels, names, exemplar ranks in the document's order, root = the dataset folder."""
    from core.dataset.cluster import CLUSTERS_FORMAT, cluster_embeddings, clusters_document

    assert rv.CLUSTERS_FORMAT == CLUSTERS_FORMAT
    rng = np.random.default_rng(1)
    emb = np.concatenate([c + rng.normal(0, .05, (10, 6)).astype(np.float32) for c in np.eye(6)[:2] * 4]
                         + [rng.normal(0, 3, (1, 6)).astype(np.float32)])
    result = cluster_embeddings(emb, umap_components=0, min_cluster_size=4, seed=0)
    records = [{"id": f"v_f{i:06d}", "path": f"frames/v/v_f{i:06d}.png", "video": "v", "shot": "v_s0000",
                "frame": i, "time": i / 24, "width": 64, "height": 48} for i in range(len(emb))]
    doc = clusters_document(records, result, params={}, config_hash="x")
    (tmp_path / "cluster").mkdir()
    (tmp_path / "cluster" / "clusters.json").write_text(json.dumps(doc))
    cs = rv.load_clusters(tmp_path)
    assert cs.root == tmp_path.absolute() and len(cs.frames) == len(emb)
    for c in doc["clusters"]:
        assert cs.name(c["id"]) == c["name"]
        assert list(cs.members(c["id"])[: len(c["exemplars"])]) == c["exemplars"]
        assert [cs.frames[f].exemplar for f in c["exemplars"]] == list(range(len(c["exemplars"])))
    assert {f["id"]: f["cluster"] for f in doc["frames"]} == {f: cs.cluster_of(f) for f in cs.frames}
    m = ReviewModel(cs)
    new = m.split(["v_f000000"])
    assert cs.name(new) == f"cluster_{new:03d}"  # the stage's naming
    doc["format"] = "reelkit.clusters/9"
    (tmp_path / "cluster" / "clusters.json").write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=r"clusters.json: format reelkit.clusters/9 is newer"):
        rv.load_clusters(tmp_path)


def test_thumbnail_paths():
    cs = ClusterSet([FrameInfo("a", "frames/a.png", 0, thumbnail="thumbs/a.jpg"), FrameInfo("b", "/abs/b.png", 0)],
                    root="/data")
    assert cs.image_path("a") == Path("/data/thumbs/a.jpg")
    assert cs.image_path("a", thumbnail=False) == Path("/data/frames/a.png")
    assert cs.image_path("b") == Path("/abs/b.png")


def test_import_is_cheap():
    """The model imports neither Qt nor the clustering libraries."""
    import subprocess
    import sys

    code = ("import sys, core.dataset.review\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'PySide2', 'hdbscan', 'umap', 'sklearn')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent.parent, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"
