"""reelkit core: the host-agnostic library (no Nuke, no Qt).

Importing :mod:`core` is cheap and has no side effects: heavy or optional
dependencies (OpenColorIO, OpenEXR, OpenCV, torch, onnxruntime, Qt) are
imported inside the functions that need them.
"""

from core.errors import ReelkitError
from core.frame import Frame

__version__ = "0.1.0"

__all__ = ["Frame", "ReelkitError", "__version__"]
