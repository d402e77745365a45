"""Files reelkit ships beside its code (the models, the Nuke plug-in folder): where they are, and the Nuke install.

One checkout, two layouts. In a checkout the files sit at the repository
root (``models/``, ``init.py``, ``menu.py``, ``gizmos/``: the root is a
``NUKE_PATH`` entry). A wheel (``pip install .``) carries them as package
data of ``core`` (``setup.py``'s build step copies them; git holds one
copy)::

    core/data/models/           <- models/
    core/data/nuke/init.py      <- init.py
    core/data/nuke/menu.py      <- menu.py
    core/data/nuke/gizmos/      <- gizmos/

:func:`shipped_folder` gives the installed folder first, else the
checkout's. Models are looked up on a search path built on it
(:func:`core.infer.shipped.model_path`); :func:`install_nuke_plugin` copies
the plug-in files into a folder Nuke reads (``reelkit nuke install``).
Nothing here imports the Nuke layer: the plug-in files are copied as files.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from core.errors import ParameterError

#: The package data folder of an installed wheel (absent in a checkout).
PACKAGE_DATA = Path(__file__).resolve().parent / "data"
#: The repository root of a checkout (in an installed wheel: site-packages, where none of these files are).
CHECKOUT = Path(__file__).resolve().parent.parent

#: The Nuke plug-in folder's entries: Nuke runs ``init.py`` (and ``menu.py`` in GUI sessions), which add ``gizmos/``.
NUKE_FILES = ("init.py", "menu.py", "gizmos")
#: Where ``reelkit nuke install`` puts them unless told (a folder of its own inside Nuke's user folder).
DEFAULT_NUKE_TARGET = Path("~/.nuke/reelkit")


def models_folders() -> list[Path]:
    """The shipped models' folders that exist: the wheel's ``core/data/models``, then the checkout's ``models/``."""
    found = [PACKAGE_DATA / "models", CHECKOUT / "models"]
    return [p for p in found if (p / "manifest.json").is_file()]


def nuke_plugin_source() -> Path:
    """The folder holding ``init.py``, ``menu.py`` and ``gizmos/``: the wheel's ``core/data/nuke``, else the checkout.

    Raises :class:`FileNotFoundError` (one line) when neither has them.
    """
    for folder in (PACKAGE_DATA / "nuke", CHECKOUT):
        if all((folder / name).exists() for name in NUKE_FILES) and (folder / "gizmos").is_dir():
            return folder
    raise FileNotFoundError(f"the Nuke plug-in files ({', '.join(NUKE_FILES)}) are neither in {PACKAGE_DATA / 'nuke'} "
                            f"nor in {CHECKOUT}: this reelkit was installed without them (reinstall the wheel)")


def install_nuke_plugin(target: str | os.PathLike | None = None, *, force: bool = False) -> Path:
    """Copy the Nuke plug-in files (``init.py``, ``menu.py``, ``gizmos/``) into ``target``; returns the folder.

    ``target``: default ``~/.nuke/reelkit``. Refuses (:class:`~core.errors.ParameterError`, one line) when
    ``target`` already holds any of them, unless ``force``; other files in ``target`` are left alone. The
    files are copied into a temporary folder beside ``target`` first, then moved in, so a failed copy
    leaves ``target`` as it was. Nuke finds the folder once it is on ``NUKE_PATH`` (:func:`nuke_path_line`);
    its Python must import ``core`` and ``nuke_plugin`` (reelkit installed into Nuke's Python).
    """
    source = nuke_plugin_source()
    dest = Path(target if target is not None else DEFAULT_NUKE_TARGET).expanduser().resolve()
    if dest == source.resolve():
        raise ParameterError(f"--target {dest}: that is where the plug-in files come from")
    if dest.exists() and not dest.is_dir():
        raise ParameterError(f"--target {dest}: not a folder")
    present = [name for name in NUKE_FILES if (dest / name).exists() or (dest / name).is_symlink()]
    if present and not force:
        raise ParameterError(f"{dest} already holds {', '.join(present)}: use --force to replace them")
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".reelkit-nuke-", dir=dest) as tmp:
        staged = Path(tmp)
        for name in NUKE_FILES:
            src = source / name
            if src.is_dir():
                shutil.copytree(src, staged / name, ignore=shutil.ignore_patterns("__pycache__", ".*"))
            else:
                shutil.copy2(src, staged / name)
        for name in NUKE_FILES:
            old = dest / name
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            elif old.exists() or old.is_symlink():
                old.unlink()
            os.replace(staged / name, old)
    return dest


def nuke_path_line(folder: str | os.PathLike) -> str:
    """The one line that puts ``folder`` on Nuke's plug-in path, for ``~/.nuke/init.py``."""
    return f"nuke.pluginAddPath({str(Path(folder))!r})"


def python_note() -> str:
    """Which Python this reelkit runs in, to compare with Nuke's (Nuke 15: Python 3.10, Nuke 16: 3.11)."""
    return f"Python {sys.version_info.major}.{sys.version_info.minor} ({sys.prefix})"
