"""Contact sheets: layout, labels, scaling."""

import numpy as np
import pytest

from core.sheets import GAP, GAP_VALUE, contact_sheet


def test_grid_layout_places_tiles_and_gaps():
    tiles = [(f"t{i}", np.full((10, 20, 3), 10 * (i + 1), np.uint8)) for i in range(5)]
    sheet = contact_sheet(tiles, cols=2, labels=False)
    assert sheet.shape == (3 * 10 + 2 * GAP, 2 * 20 + GAP, 3)
    assert (sheet[0:10, 0:20] == 10).all() and (sheet[0:10, 20 + GAP:] == 20).all()
    assert (sheet[2 * (10 + GAP):, 0:20] == 50).all()
    assert (sheet[10:10 + GAP] == GAP_VALUE).all()
    assert (sheet[2 * (10 + GAP):, 20 + GAP:] == GAP_VALUE).all()  # empty cell


def test_labels_draw_on_copies_and_scaling_keeps_aspect():
    tile = np.full((60, 200, 3), 200, np.uint8)
    sheet = contact_sheet([("hello", tile), ("", tile)], max_width=101)
    assert (tile == 200).all()  # caller's tile untouched
    assert sheet.shape[1] == 101 and sheet.shape[0] == round(60 * 101 / (400 + GAP))
    full = contact_sheet([("hello", tile)])
    assert (full[:20, :60] != 200).any() and (full[40:, 100:] == 200).all()
    with pytest.raises(ValueError):
        contact_sheet([])
