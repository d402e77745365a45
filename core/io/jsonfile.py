"""Reading the JSON documents reelkit writes (manifests, configs, projects): one error per failure.

:func:`read_json_object` reads a file that must hold a JSON object and
raises :class:`~core.errors.ImageReadError` (an ``OSError``) with one line
naming the file and what is wrong: missing, unreadable, not JSON (with the
line and column), or JSON that is not an object.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from core.errors import ImageReadError


def read_json_object(path: str | os.PathLike, what: str) -> dict[str, Any]:
    """The JSON object in ``path``; ``what`` names the document in errors (``"training config"``)."""
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except FileNotFoundError:
        raise ImageReadError(f"{p}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ImageReadError(f"{p}: cannot read the {what} ({exc})") from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImageReadError(f"{p}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(payload, dict):
        raise ImageReadError(f"{p}: not a {what} (a JSON {type(payload).__name__}, not an object)")
    return payload
