"""ClusterModel files: the format is checked before anything is unpickled (issue 15, item 8b).

Before, ``ClusterModel.load`` unpickled the file and only then looked at
its format, so any pickle named ``model.pkl`` ran its code on load.
"""

from __future__ import annotations

import pathlib
import pickle

import numpy as np
import pytest

pytest.importorskip("hdbscan")

from core.dataset.cluster import MODEL_MAGIC, ClusterModel, cluster_embeddings  # noqa: E402
from core.errors import ParameterError  # noqa: E402


class _Touch:
    """Unpickling this creates a file: what a foreign pickle could do."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.path),)


def _patches() -> np.ndarray:
    """48 rows: 8x8 RGB patches of two scikit-image photos (astronaut, coffee), flattened, float32 0..1."""
    from skimage import data

    rows = []
    for img in (data.astronaut(), data.coffee()):
        for y in range(0, 192, 32):
            for x in range(0, 128, 32):
                rows.append(img[y:y + 8, x:x + 8].reshape(-1) / 255.0)
    return np.asarray(rows, np.float32)


def test_round_trip_predicts_the_same(tmp_path):
    emb = _patches()
    result = cluster_embeddings(emb, umap_components=0, min_cluster_size=4, seed=3)
    path = result.model.save(tmp_path / "model.pkl")
    assert path.read_bytes().startswith(MODEL_MAGIC)
    loaded = ClusterModel.load(path)
    before, after = result.model.predict(emb[:10]), loaded.predict(emb[:10])
    assert np.array_equal(before[0], after[0]) and np.allclose(before[1], after[1])


@pytest.mark.parametrize("payload", ["foreign pickle", "old format"])
def test_a_file_without_the_format_line_is_not_unpickled(tmp_path, payload):
    marker = tmp_path / "ran"
    evil = _Touch(marker)
    blob = pickle.dumps(evil if payload == "foreign pickle"
                        else {"format": "reelkit.dataset_clusters/1", "pca": evil, "umap": None, "hdbscan": None})
    (tmp_path / "model.pkl").write_bytes(blob)
    with pytest.raises(ParameterError, match=r"model.pkl: not a reelkit.dataset_clusters/2 file"):
        ClusterModel.load(tmp_path / "model.pkl")
    assert not marker.exists()
