"""Importing the Nuke layer needs neither Nuke nor Qt (the generator and the CLI run without them)."""

from __future__ import annotations

import subprocess
import sys

from tests.nuke.conftest import REPO

MODULES = ["nuke_plugin", "nuke_plugin.registry", "nuke_plugin.specs", "nuke_plugin.knobs", "nuke_plugin.host",
           "nuke_plugin.menus", "nuke_plugin.build_gizmos", "nuke_plugin.nodes.color_convert",
           "nuke_plugin.nodes.spectrum_encode", "nuke_plugin.nodes.reel_degrade", "nuke_plugin.panels"]


def test_import_without_nuke_or_qt():
    code = (
        "import sys\n"
        f"for m in {MODULES!r}: __import__(m)\n"
        "from nuke_plugin import registry\n"
        "[(spec.knob_params(), spec.group_params(), spec.knob_names()) for spec in registry.NODES]\n"
        "from nuke_plugin import menus; menus.register_panels()\n"
        "bad = sorted(m for m in sys.modules if m == 'nuke' or m.split('.')[0] in ('PySide6', 'PySide2', 'PyQt5', 'PyQt6'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_registry_names_real_specs_and_callables():
    from nuke_plugin import registry

    for spec in registry.NODES:
        assert registry.get(spec.name) is spec
        names = list(spec.knob_params().params)
        assert len(names) == len(set(names))
        for button in spec.buttons:
            module, _, attr = button.command.rpartition(".")
            assert callable(getattr(__import__(module, fromlist=[attr]), attr))
