"""Thumbnails for the review panel: read scaled while decoding, loaded lazily on the GUI thread, cached."""

from __future__ import annotations

import collections
import os

from nuke_plugin.panels import widgets as w
from nuke_plugin.panels.widgets import QtCore, QtGui

#: Longer side of a frame thumbnail in the grid (pixels).
THUMB = 150


def _read_thumbnail(path: str, size: int) -> QtGui.QImage:
    """One image scaled to fit ``size`` (QImageReader scales while decoding where it can); null if unreadable."""
    reader = QtGui.QImageReader(path)
    reader.setAutoTransform(True)
    full = reader.size()
    if full.isValid() and (full.width() > size or full.height() > size):
        reader.setScaledSize(full.scaled(size, size, QtCore.Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()


class ThumbnailCache(QtCore.QObject):
    """Thumbnails loaded on first request, a few per event-loop turn, kept (least recently used out).

    :meth:`get` returns the pixmap, or ``None`` while it waits its turn;
    :attr:`ready` tells when one arrived. A file that cannot be read gets
    :attr:`missing`. Loading runs on the GUI thread in slices of at most
    ``budget_ms``: no worker threads, so closing the panel (or Nuke) never
    waits on a thread that needs the Python lock the closing thread holds.
    """

    ready = QtCore.Signal(str)

    def __init__(self, size: int = THUMB, *, limit: int = 3000, budget_ms: int = 15, parent=None):
        super().__init__(parent)
        self.size, self.limit, self.budget_ms = size, limit, budget_ms
        self._cache: collections.OrderedDict[str, QtGui.QPixmap] = collections.OrderedDict()
        self._queue: collections.deque[str] = collections.deque()
        self._pending: set[str] = set()
        self.loads = 0  # how many files were read (tests check laziness with it)
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._load_some)
        self.missing = self._missing_pixmap()

    def _missing_pixmap(self) -> QtGui.QPixmap:
        pm = QtGui.QPixmap(self.size, int(self.size * 0.6))
        pm.fill(w.qcolor("track"))
        p = QtGui.QPainter(pm)
        p.setPen(w.qcolor("faint"))
        p.drawText(pm.rect(), int(QtCore.Qt.AlignmentFlag.AlignCenter), "missing")
        p.end()
        return pm

    def get(self, path: str | os.PathLike) -> QtGui.QPixmap | None:
        key = os.fspath(path)
        pm = self._cache.get(key)
        if pm is not None:
            self._cache.move_to_end(key)
            return pm
        if key not in self._pending:
            self._pending.add(key)
            self._queue.append(key)
            if not self._timer.isActive():
                self._timer.start()
        return None

    def _load_one(self) -> None:
        path = self._queue.popleft()
        self.loads += 1
        image = _read_thumbnail(path, self.size)
        self._pending.discard(path)
        self._cache[path] = self.missing if image.isNull() else QtGui.QPixmap.fromImage(image)
        while len(self._cache) > self.limit:
            self._cache.popitem(last=False)
        self.ready.emit(path)

    def _load_some(self) -> None:
        clock = QtCore.QElapsedTimer()
        clock.start()
        while self._queue and clock.elapsed() < self.budget_ms:
            self._load_one()
        if not self._queue:
            self._timer.stop()

    def wait(self) -> None:
        """Load everything requested so far, now (tests, screenshots), and deliver it."""
        while self._queue:
            self._load_one()
        self._timer.stop()
        QtCore.QCoreApplication.processEvents()
