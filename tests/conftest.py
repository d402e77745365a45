"""Shared test setup.

- Qt runs offscreen.
- A test that logs an ERROR through the ``reelkit``/``core`` loggers fails
  (as in PySceneDetect's suite): errors must be raised or asserted, not
  buried in logs.
- Sample photos shipped in ``core/data/samples`` are real images for tests.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "core" / "data" / "samples"


@pytest.fixture(autouse=True)
def no_ocio_env(monkeypatch):
    """Tests see no user $OCIO: untagged float files default to lin_rec709 unless a test sets one."""
    monkeypatch.delenv("OCIO", raising=False)


@pytest.fixture(autouse=True)
def no_model_path_env(monkeypatch):
    """Tests see no user $REELKIT_MODEL_PATH: models found by name are the checkout's unless a test sets one."""
    monkeypatch.delenv("REELKIT_MODEL_PATH", raising=False)


@pytest.fixture(autouse=True)
def no_logged_errors(caplog):
    """Fail any test during which reelkit logged an ERROR it did not assert on."""
    caplog.set_level(logging.WARNING)
    yield
    errors = [r for r in caplog.get_records("call")
              if r.levelno >= logging.ERROR and r.name.split(".")[0] in ("core", "nuke_plugin", "reelkit")]
    if errors and not getattr(caplog, "errors_expected", False):
        pytest.fail("logged errors: " + "; ".join(r.getMessage() for r in errors))


@pytest.fixture
def torch_one_thread():
    """torch on one thread: tiny tensors on two shared cores, where a thread pool only waits for the other process."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


def srgb_sample(name: str = "coffee.png") -> np.ndarray:
    """A shipped sample photo as float32 HWC sRGB-encoded 0..1 (read with OpenCV, independent of core.io)."""
    import cv2

    bgr = cv2.imread(str(SAMPLES / name), cv2.IMREAD_COLOR)
    assert bgr is not None, f"cannot read sample {name}"
    return (bgr[..., ::-1].astype(np.float32) / 255.0).copy()
