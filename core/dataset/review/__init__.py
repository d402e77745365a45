"""Review of the cluster stage's output: names, merges, splits, moves, tags, captions, rejections.

Qt-free; the review panel (:mod:`nuke_plugin.panels.review`) draws a
:class:`ReviewModel`, and the caption and assembly stages read the result
with :func:`load_decisions` + :func:`apply_decisions`. One module a concern:

- :mod:`~core.dataset.review.clusters`: the cluster stage's output and where every frame is now
  (:class:`ClusterSet`, :func:`load_clusters`);
- :mod:`~core.dataset.review.decisions`: the decisions file, its checks, applying it
  (:func:`save_decisions`, :func:`load_decisions`, :func:`apply_decisions`);
- :mod:`~core.dataset.review.editor`: the edits as undoable commands (:class:`ReviewModel`).

The data
--------
A :class:`ClusterSet` is the cluster stage's output (every kept frame with
its HDBSCAN label, ``-1`` being the noise bucket, its membership
probability, outlier score and exemplar rank) plus the review's edits. It is
read from the stage's JSON with :func:`load_clusters`, or made in memory from
frame records and a :class:`core.dataset.cluster.ClusterResult` with
:func:`clusters_from_result`.

Clusters are named by integers: the stage's labels, ``-1`` for noise
(:data:`NOISE`), and new numbers (after the largest one in use) for clusters
made by a split. The frames of a cluster are listed exemplars first (by
exemplar rank), then by membership probability (highest first), then id.

The edits, and what they mean for a frame
-----------------------------------------
- **merge** ``A`` into ``B``: every frame whose label is ``A`` now belongs to
  ``B`` (a frame placed later with label ``A`` follows it too); a split-made
  ``A`` just hands its frames over. The noise bucket cannot be merged away.
- **split**: the selected frames go to a new cluster (named ``cluster_NNN``
  after its id unless a name is given).
- **move**: the selected frames go to an existing cluster (or noise).
- **rename**: a cluster's name (one line, at most 80 characters, unique
  among the clusters regardless of case; noise keeps its name).
- **tag** / **untag**: a tag (one line, no comma: captions are comma-joined)
  on frames or on a cluster. A frame's tags are its cluster's plus its own.
- **fields**: caption fields (:data:`CAPTION_FIELDS`, or any other
  identifier) on a cluster or on frames; a frame's value overrides its
  cluster's; an empty value clears the field.
- **reject** / **restore**: a rejected frame stays visible in its cluster
  but leaves the dataset; the reason is kept.

Every edit is one undoable command of :class:`ReviewModel` (``undo`` /
``redo``). A command records the previous value of each table entry it
writes, so undo and redo are exact, whatever the command.

Decisions file (``reelkit.review/1``)
-------------------------------------
:func:`save_decisions` writes ``review/decisions.json`` (:data:`DECISIONS_PATH`
under the dataset folder), atomically, with sorted keys and lists (the same
edits give the same bytes)::

    {"format": "reelkit.review/1",
     "base": {"hash": "<sha256>", "frames": 120, "clusters": 5},
     "clusters": [{"id": 3, "name": "red coat", "tags": ["hero"], "fields": {"outfit": "red coat"}},
                  {"id": 5, "merged_into": 3},
                  {"id": 9, "created": true, "split_from": 3, "name": "cluster_009"}],
     "frames": [{"id": "clip_f000010", "cluster": 9, "tags": ["closeup"], "fields": {},
                 "rejected": "motion blur"}],
     "history": ["merge 5 into 3", "split 4 frames of 3 into 9"],
     "summary": {...}}

Only what differs from the stage's output is written. ``base.hash`` is
:meth:`ClusterSet.base_hash` (sha256 of every frame id with its label): when
the cluster stage has been run again with another result the decisions are
stale. :func:`apply_decisions` raises :class:`StaleDecisionsError` naming the
missing frames and clusters and the hash mismatch, or with ``strict=False``
applies what still applies and lists the rest in ``ClusterSet.problems``.

Input read by :func:`load_clusters`
-----------------------------------
The cluster stage's ``cluster/clusters.json`` (``reelkit.clusters/1``,
documented in :mod:`core.dataset.cluster`). What is read: ``frames``, a
list of records with ``id``, ``path`` (relative to the dataset folder),
``cluster`` (or ``label``), and optionally ``probability``,
``outlier_score``, ``exemplar`` (``true``/``false``, or a rank), ``shot``,
``video`` and ``thumbnail`` (a smaller picture for the panel, relative like
``path``); ``clusters``, a list of ``{"id": int, "name": str, "exemplars":
[frame ids]}`` (the exemplar lists give the ranks, most representative
first); optional ``root`` (the folder paths are relative to, itself
relative to the file; default: the dataset folder, the parent of
``cluster/``). Other keys are ignored; a ``format`` other than
``reelkit.clusters/1`` is refused.
"""

from core.dataset.review.clusters import (CLUSTER_FILES, CLUSTERS_FORMAT, NOISE, NOISE_NAME, ClusterSet,
                                          ClusterView, FrameDecision, FrameInfo, StaleDecisionsError,
                                          clusters_from_records, clusters_from_result, dataset_dir_of,
                                          default_name, find_cluster_file, load_clusters)
from core.dataset.review.decisions import (CAPTION_FIELDS, DECISIONS_PATH, FORMAT, MAX_NAME, apply_decisions,
                                           check_decisions, decisions_of, decisions_path, dumps_decisions,
                                           load_decisions, save_decisions, upgrade_decisions)
from core.dataset.review.editor import ReviewModel

__all__ = [
    "CAPTION_FIELDS", "CLUSTERS_FORMAT", "CLUSTER_FILES", "DECISIONS_PATH", "FORMAT", "MAX_NAME", "NOISE",
    "NOISE_NAME", "ClusterSet", "ClusterView", "FrameDecision", "FrameInfo", "ReviewModel", "StaleDecisionsError",
    "apply_decisions", "check_decisions", "clusters_from_records", "clusters_from_result", "dataset_dir_of",
    "decisions_of", "decisions_path", "default_name", "dumps_decisions", "find_cluster_file", "load_clusters",
    "load_decisions", "save_decisions", "upgrade_decisions",
]
