"""The one build step pyproject.toml cannot declare: the wheel carries the files that sit at the repository root.

The repository root is a Nuke plug-in folder (``init.py``, ``menu.py``,
``gizmos/``) beside ``models/``; git holds one copy of each. Building a
wheel copies them into ``core/data/`` (the layout :mod:`core.resources`
reads), so ``pip install .`` gets the models and the Nuke files too. An
editable install reads them from the checkout and copies nothing.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: package data in the wheel -> files of the checkout (keep in step with core/resources.py)
SHIPPED = {
    "core/data/models": ["models/*.onnx", "models/*.pt", "models/*.json", "models/README.md"],
    "core/data/nuke": ["init.py", "menu.py"],
    "core/data/nuke/gizmos": ["gizmos/*.gizmo"],
}


class BuildWithShippedFiles(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for folder, patterns in SHIPPED.items():
            files = sorted(f for pattern in patterns for f in ROOT.glob(pattern))
            if not files:
                raise SystemExit(f"setup.py: nothing matches {patterns} in {ROOT}: cannot build a wheel without them")
            dest = Path(self.build_lib) / folder
            dest.mkdir(parents=True, exist_ok=True)
            for f in files:
                self.copy_file(str(f), str(dest / f.name))


setup(cmdclass={"build_py": BuildWithShippedFiles})
