"""The palette panel: its model (no Qt) and its widgets (offscreen Qt), on a real fit of a shipped photo.

The palette comes from ``coffee.png`` (sRGB) converted to ACEScg and fitted
with :func:`core.palette.fit_palette`; what the panel shows is compared with
that fit and its full-resolution encoding.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core import color
from core.errors import ParameterError
from core.io.samples import load_sample
from core.palette import encode, fit_palette, unpack, unpack_exr
from core.palette.editor import PaletteModel


@pytest.fixture(scope="module")
def coffee():
    """(ACEScg pixels, fit, encoding) of coffee.png, K = 8, computed once for the module."""
    frame = load_sample("coffee.png")
    pixels = color.convert(frame.pixels, "srgb", "ACEScg")
    fit = fit_palette(pixels, k=8)
    return pixels, fit, encode(pixels, fit, distance=False)


@pytest.fixture
def model(coffee):
    pixels, fit, enc = coffee
    m = PaletteModel()
    m.load_fit(fit, index=enc.index, counts=enc.counts, image=pixels, source="coffee.png", kind="image")
    return m


# ----------------------------------------------------------------------------- model


def test_model_shows_the_fit(model, coffee):
    _, fit, enc = coffee
    assert model.k == 8 and not model.empty and model.can_refit
    entries = model.entries()
    np.testing.assert_array_equal(np.stack([e.acescg for e in entries]), fit.palette_acescg)
    np.testing.assert_array_equal(np.stack([e.srgb for e in entries]),
                                  color.acescg_to_srgb_preview(fit.palette_acescg))
    np.testing.assert_allclose([e.share for e in entries], enc.counts / enc.counts.sum())
    np.testing.assert_array_equal([e.position for e in entries], fit.positions)
    assert not any(e.locked or e.edited for e in entries)
    assert model.summary().startswith("8 colours · OKLab · mean ΔE ")


def test_fit_image_from_a_frame_in_any_colour_space():
    m = PaletteModel()
    m.fit_image(load_sample("coffee.png"), params={"k": 5})  # an sRGB Frame: converted to ACEScg first
    assert m.k == 5 and m.image.shape[2] == 3 and m.params["k"] == 5
    assert m.shares.sum() == pytest.approx(1.0)


def test_edit_locks_and_reset_restores(model):
    seen = []
    model.subscribe(lambda event, i: seen.append((event, i)))
    before = model.colours[3].copy()
    model.set_colour(3, [0.5, 0.25, 0.125])
    e = model.entry(3)
    assert e.edited and e.locked and e.acescg.tolist() == [0.5, 0.25, 0.125]
    np.testing.assert_array_equal(e.original, before)
    model.reset(3)
    assert not model.entry(3).edited and model.entry(3).locked
    model.set_oklab(1, [0.7, 0.1, 0.05])
    np.testing.assert_allclose(color.acescg_to_oklab(model.colours[1][None])[0], [0.7, 0.1, 0.05], atol=1e-5)
    model.set_srgb(2, (255, 128, 0))
    np.testing.assert_array_equal(color.acescg_to_srgb_preview(model.colours[2][None])[0], [255, 128, 0])
    assert seen == [("entry", 3), ("entry", 3), ("entry", 1), ("entry", 2)]


@pytest.mark.parametrize("call, match", [
    (lambda m: m.set_colour(8, [0, 0, 0]), r"entry 8: expected 0\.\.7"),
    (lambda m: m.set_colour(0, [0.1, float("nan"), 0.2]), "3 finite ACEScg values"),
    (lambda m: m.set_colour(0, [0.1, 0.2]), "3 finite ACEScg values"),
    (lambda m: m.set_colour(0, m.colours[1]), "another entry already has this colour"),
    (lambda m: m.select(True), "expected 0..7"),
    (lambda m: m.set_param("k", 1), "below the minimum 2"),
    (lambda m: m.set_param("colours", 3), "unknown palette parameter"),
    (lambda m: m.save("palette.png"), r"\.npz \(pack\) or \.exr"),
])
def test_model_refuses(model, call, match):
    with pytest.raises(ParameterError, match=match):
        call(model)


def test_refit_keeps_locked_entries_exactly(model):
    model.set_colour(2, [0.02, 0.3, 0.5])   # a blue the coffee does not have: kept anyway
    model.set_locked(6, True)
    kept = model.colours[[2, 6]].copy()
    model.select(2)
    model.set_param("k", 6)
    model.refit()
    assert model.k == 6 and model.locked.sum() == 2
    got = model.colours[model.locked]
    assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, kept.tolist()))
    assert np.array_equal(model.colours[model.selected], kept[0])  # the selection follows the locked entry
    assert model.fit.fixed.sum() == 2 and model.summary().endswith("2 locked")


def test_refit_needs_the_image(model, tmp_path):
    model.save(tmp_path / "p.npz")
    loaded = PaletteModel()
    loaded.load_pack(tmp_path / "p.npz")
    assert not loaded.can_refit
    with pytest.raises(ParameterError, match="refit needs the source image"):
        loaded.refit()


@pytest.mark.parametrize("suffix", [".npz", ".exr"])
def test_save_and_open_round_trip_edits_and_locks(model, coffee, tmp_path, suffix):
    _, _, enc = coffee
    model.set_colour(0, [0.9, 0.1, 0.6])
    model.set_locked(4, True)
    path = model.save(tmp_path / f"edited{suffix}")
    assert model.source == str(path) and model.kind == "pack"
    loaded = unpack(path) if suffix == ".npz" else unpack_exr(path)
    np.testing.assert_array_equal(loaded.index, enc.index)                  # the index map is kept
    np.testing.assert_array_equal(loaded.palette_acescg, model.colours)     # with the edited colours
    recoloured = loaded.decode()[enc.index == 0]
    assert len(recoloured) == enc.counts[0] and (recoloured == np.float32([0.9, 0.1, 0.6])).all()
    assert loaded.metadata["fit"]["fixed"] == [0, 4]
    assert loaded.metadata["fit"]["params"]["fixed"] == model.colours[[0, 4]].astype(np.float64).tolist()
    again = PaletteModel()
    again.open(path)
    np.testing.assert_array_equal(again.colours, model.colours)
    assert again.locked.tolist() == model.locked.tolist()
    if suffix == ".npz":
        sidecar = json.loads(path.with_suffix(".json").read_text("utf-8"))
        assert sidecar["format"] == "reelkit.palette/1"


def test_open_dispatches_on_the_file(model, tmp_path):
    from core import io
    from core.frame import Frame

    image = tmp_path / "plain.exr"
    io.write_image(image, Frame(model.image[:40, :60].copy(), "ACEScg"))
    m = PaletteModel()
    m.open(image)                          # an EXR without a palette: fitted as an image
    assert m.kind == "image" and m.can_refit and m.k == 8
    with pytest.raises(ParameterError, match="not a palette pack"):
        m.open(tmp_path / "notes.txt")


# ----------------------------------------------------------------------------- widgets


@pytest.fixture(scope="module")
def qapp():
    qt = pytest.importorskip("PySide6.QtWidgets", reason="the ui extra (PySide6) is not installed")
    return qt.QApplication.instance() or qt.QApplication([])


@pytest.fixture
def panel(qapp, model):
    from nuke_plugin.panels.palette_panel import PalettePanel

    p = PalettePanel(model, transient=True)
    p.resize(440, 860)
    p.show()
    qapp.processEvents()
    yield p
    p.close()
    p.deleteLater()
    qapp.processEvents()


def _click(widget, where):
    """A left click at a QPoint, or the centre of a QRect."""
    from PySide6 import QtCore
    from PySide6.QtTest import QTest

    point = where.center() if isinstance(where, QtCore.QRect) else where
    QTest.mouseClick(widget, QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier, point)


def _pixel(image, point) -> tuple[int, int, int]:
    c = image.pixelColor(point)
    return (c.red(), c.green(), c.blue())


def test_panel_shows_swatches_shares_and_order(panel, model, coffee):
    _, fit, enc = coffee
    swatches = panel.swatches
    assert swatches.height() == 8 * swatches.ROW
    shot = swatches.grab().toImage()
    srgb = color.acescg_to_srgb_preview(fit.palette_acescg)
    shares = enc.counts / enc.counts.sum()
    widths = [swatches.bar_rect(i).width() for i in range(8)]
    for i in range(8):
        assert _pixel(shot, swatches.chip_rect(i).center()) == tuple(int(v) for v in srgb[i])
        assert swatches.share_text(i) == f"{shares[i] * 100:.1f}%"
        assert widths[i] == pytest.approx(swatches.track_rect(i).width() * shares[i] / shares.max())
    assert max(widths) == pytest.approx(swatches.track_rect(0).width())
    # gradient order: the ramp's ends are the first and last entries along the hue path
    ramp = panel.gradient.grab().toImage()
    first, last = np.argmin(fit.positions), np.argmax(fit.positions)
    y = 14
    assert np.abs(np.subtract(_pixel(ramp, _qpoint(panel.gradient.x_of(0) + 3, y)), srgb[first])).max() <= 12
    assert np.abs(np.subtract(_pixel(ramp, _qpoint(panel.gradient.x_of(1) - 3, y)), srgb[last])).max() <= 12
    assert panel.summary.text() == model.summary() and panel.refit_button.isEnabled()


def _qpoint(x, y):
    from PySide6 import QtCore

    return QtCore.QPoint(int(round(x)), int(y))


def test_click_selects_and_padlock_locks(panel, model):
    _click(panel.swatches, panel.swatches.chip_rect(5))
    assert model.selected == 5
    assert panel.editor.title.text().startswith("Entry 5")
    assert [round(s.value(), 4) for s in panel.editor.acescg] == [round(float(v), 4) for v in model.colours[5]]
    _click(panel.swatches, panel.swatches.lock_rect(3))
    assert model.locked.tolist() == [i == 3 for i in range(8)] and model.selected == 5
    _click(panel.swatches, panel.swatches.lock_rect(3))
    assert not model.locked.any()
    _click(panel.gradient, _qpoint(panel.gradient.x_of(model.fit.positions[1]), 30))
    assert model.selected == 1


def test_edit_fields_set_the_colour(panel, model):
    model.select(4)
    r, g, b = panel.editor.acescg
    r.setValue(0.75)
    r.editingFinished.emit()
    assert model.colours[4][0] == pytest.approx(0.75) and model.locked[4] and model.entry(4).edited
    assert panel.editor.lock.isChecked() and panel.editor.reset.isEnabled()
    ell = panel.editor.oklab[0]
    ell.setValue(0.3)
    ell.editingFinished.emit()
    assert model.entry(4).oklab[0] == pytest.approx(0.3, abs=1e-4)
    panel.editor.reset.click()
    assert not model.entry(4).edited
    panel.editor.lock.click()
    assert not model.locked[4]


def test_pick_colour_dialog_does_not_block(panel, model):
    from PySide6 import QtGui, QtWidgets

    assert panel.pick_colour() is None          # nothing selected
    model.select(0)
    dialog = panel.pick_colour()
    assert isinstance(dialog, QtWidgets.QColorDialog) and dialog.isVisible() and panel.dialog is dialog
    dialog.setCurrentColor(QtGui.QColor(20, 160, 220))
    dialog.accept()
    np.testing.assert_array_equal(color.acescg_to_srgb_preview(model.colours[0][None])[0], [20, 160, 220])
    assert model.locked[0]


def test_refit_from_the_panel(panel, model):
    model.set_locked(7, True)
    kept = model.colours[7].copy()
    k = panel.param_widgets["k"]
    k.setValue(5)
    assert model.params["k"] == 5
    panel.refit_button.click()
    assert model.k == 5 and panel.swatches.height() == 5 * panel.swatches.ROW
    assert any(np.array_equal(c, kept) for c in model.colours[model.locked])
    assert panel.status.text().startswith("Refitted:") and "kept 1 locked" in panel.status.text()


def test_open_and_save_through_the_dialogs(panel, model, tmp_path, qapp):
    model.set_colour(1, [0.3, 0.6, 0.1])
    dialog = panel.save_dialog()
    dialog.selectFile(str(tmp_path / "mine.npz"))
    dialog.accept()
    qapp.processEvents()
    assert (tmp_path / "mine.npz").is_file() and (tmp_path / "mine.json").is_file()
    assert panel.status.text() == "Saved mine.npz"
    from nuke_plugin.panels.palette_panel import PalettePanel

    other = PalettePanel(transient=True)
    assert not other.save_button.isEnabled() and not other.refit_button.isEnabled()
    dialog = other.open_dialog()
    dialog.selectFile(str(tmp_path / "mine.npz"))
    dialog.accept()
    qapp.processEvents()
    np.testing.assert_array_equal(other.model.colours, model.colours)
    assert other.model.locked[1] and not other.refit_button.isEnabled()
    assert other.title.text() == "Palette — mine.npz"
    other.deleteLater()


def test_errors_go_to_the_status_line(panel, tmp_path):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not a zip")
    assert panel.open_path(bad) is False
    assert "corrupt palette pack" in panel.status.text()
    assert panel.model.k == 8  # the palette shown is kept


def test_screenshot(panel, model, qapp, tmp_path):
    """The panel as an artist sees it, saved for a look (``/tmp/reelkit_palette_panel.png``)."""
    model.select(2)
    model.set_locked(5, True)
    model.set_colour(2, model.colours[2] * np.float32(1.3))
    qapp.processEvents()
    image = panel.grab().toImage()
    assert (image.width(), image.height()) == (440, 860)
    out = Path("/tmp/reelkit_palette_panel.png")
    assert image.save(str(out)) and out.stat().st_size > 10_000


# ----------------------------------------------------------------------------- hue coverage (issue 24 item 4)


@pytest.fixture
def forest_model():
    """A model holding the plain K=8 fit of the forest-path photo (tests/test_palette_hues.py): orange is missed."""
    from tests.test_palette_hues import forest_path

    image, path = forest_path()
    fit = fit_palette(image, k=8)
    m = PaletteModel()
    enc = encode(image, fit, distance=False)
    m.load_fit(fit, index=enc.index, counts=enc.counts, image=image, source="forest path", kind="image")
    return m


def test_model_coverage_and_pin_a_missed_family(forest_model):
    from core.palette.controller import family_colour

    m = forest_model
    cov = m.coverage()
    assert not cov.passed and cov.missed == ("orange",) and cov.min_share == 0.01 and not cov.enforced
    orange = family_colour(m.image, "orange", weight=m.params["weight"])
    m.pin_family("orange")
    assert m.k == 8 and m.coverage().passed and "orange" in m.coverage().found
    pinned = [i for i in range(m.k) if np.array_equal(m.colours[i], orange)]
    assert len(pinned) == 1 and m.locked[pinned[0]]  # the family's mean colour, bit for bit, locked
    m.set_param("k", 6)
    m.refit()  # a later refit keeps it
    assert m.k == 6 and any(np.array_equal(c, orange) for c in m.colours[m.locked]) and m.coverage().passed


@pytest.mark.parametrize("family,match", [("teal", "expected one of red, orange"), ("blue", "no pixel")])
def test_model_pin_refusals(forest_model, family, match):
    with pytest.raises(ParameterError, match=match):
        forest_model.pin_family(family)


def test_pin_needs_pixels_and_a_free_entry(model, tmp_path):
    model.save(tmp_path / "p.npz")
    packed = PaletteModel()
    packed.open(tmp_path / "p.npz")
    assert packed.coverage() is None
    with pytest.raises(ParameterError, match="source image"):
        packed.pin_family("red")
    for i in range(model.k):
        model.set_locked(i, True)
    with pytest.raises(ParameterError, match="all 8 entries are locked"):
        model.pin_family("red")


def test_panel_shows_coverage_and_pins_with_one_click(qapp, forest_model):
    from nuke_plugin.panels.palette_panel import PalettePanel

    panel = PalettePanel(forest_model, transient=True)
    panel.resize(440, 900)
    panel.show()
    qapp.processEvents()
    try:
        assert panel.coverage.text().startswith("hue coverage FAIL") and "missed orange" in panel.coverage.text()
        assert list(panel.pin_buttons) == ["orange"]
        panel.pin_buttons["orange"].click()
        qapp.processEvents()
        assert panel.coverage.text().startswith("hue coverage pass") and panel.pin_buttons == {}
        assert panel.status.text().startswith("Pinned orange") and forest_model.locked.sum() == 1
        assert set(panel.param_widgets) == {"k", "space", "seed", "weight", "hue_coverage"}
    finally:
        panel.close()
        panel.deleteLater()
        qapp.processEvents()
