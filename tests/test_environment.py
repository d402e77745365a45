"""The test environment (`pip install -e ".[dev]"`) has every layer, so no test skips for a missing package.

Several modules `importorskip` an optional extra so that a partial install
can still run the rest; this test makes a missing extra in the full test
environment a failure instead of a quiet skip.
"""

from __future__ import annotations

import importlib

import pytest

# import name -> the pyproject extra that provides it
DEV_MODULES = {
    "torch": "train",
    "onnx": "train",
    "onnxruntime": "infer",
    "scenedetect": "dataset",
    "imagehash": "dataset",
    "sklearn": "dataset",
    "hdbscan": "dataset",
    "umap": "dataset",
    "PySide6.QtWidgets": "ui",
    "distributed": "scale",
    "colour": "dev",
    "av": "dev",
    "skimage": "dev",
    "skvideo": "bench",
    "PyOpenColorIO": "core",
    "OpenEXR": "core",
}


@pytest.mark.parametrize("module", sorted(DEV_MODULES))
def test_dev_extra_is_installed(module):
    try:
        importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - the failure message is the point
        pytest.fail(f"{module} (extra {DEV_MODULES[module]!r}) is missing: pip install -e '.[dev]' ({exc})")
