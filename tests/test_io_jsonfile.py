"""core.io.jsonfile: one error line per way a JSON document can be wrong."""

from __future__ import annotations

import pytest

from core.errors import ImageReadError
from core.io.jsonfile import read_json_object


def test_reads_an_object(tmp_path):
    p = tmp_path / "a.json"
    p.write_text('{"b": [1, 2], "a": null}', "utf-8")
    assert read_json_object(p, "thing") == {"b": [1, 2], "a": None}


@pytest.mark.parametrize("content, match", [
    (None, r"a\.json: no such training config$"),
    (b"\xff\xfe{", r"a\.json: cannot read the training config"),
    (b'{"a": 1,\n  "b": }', r"a\.json: not valid JSON at line 2 column 8"),
    (b"[1, 2]", r"a\.json: not a training config \(a JSON list, not an object\)"),
])
def test_errors_name_the_file_and_the_problem(tmp_path, content, match):
    p = tmp_path / "a.json"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(ImageReadError, match=match):
        read_json_object(p, "training config")
