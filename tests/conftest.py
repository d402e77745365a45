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
import sys
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


def pytest_sessionfinish(session, exitstatus):
    """Delete the Qt widgets still alive when the tests end, while the QApplication is there.

    Left to interpreter exit (a panel made by a fake Nuke menu command and never closed, its QTimer
    running), they were destroyed in no particular order after the application, and the test process
    crashed after every test had passed ("QObject: shared QObject was deleted directly", SIGSEGV/SIGBUS:
    ``tests/nuke/test_startup.py -k journal_panel`` alone, every time), which fails CI.
    """
    widgets = sys.modules.get("PySide6.QtWidgets")
    app = widgets.QApplication.instance() if widgets is not None else None
    if app is None:
        return
    from PySide6 import QtCore

    for widget in widgets.QApplication.topLevelWidgets():
        widget.close()
        widget.deleteLater()
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
    app.processEvents()
