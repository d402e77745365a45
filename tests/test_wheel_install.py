"""A real wheel, installed the way a studio installs it (issue 20 item 1).

Builds the wheel from the files git knows (``pip wheel``, no build
isolation: setuptools of this environment), installs it with ``--no-deps``
into a fresh venv that sees this environment's packages through a ``.pth``
(numpy, OpenEXR, onnxruntime... are not downloaded again), and from there,
with the checkout out of sight (another working folder, no PYTHONPATH):

- ``reelkit models list`` finds the shipped model inside the installed package;
- ``reelkit infer --model film_restore`` restores a crop of a real photo;
- ``reelkit nuke install --target DIR`` copies the plug-in files, and Nuke's
  start-up (the fake ``nuke`` of tests/nuke) runs the installed ``init.py``
  and ``menu.py``: gizmos on the plug-in path, the menu built, every node created.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, SAMPLES



def _run(argv, *, cwd, env=None, timeout=300):
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, argv))} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout (the wheel is built from the files git knows)")
    pytest.importorskip("setuptools", reason="building the wheel without isolation needs setuptools here")
    src = tmp_path_factory.mktemp("src")
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():  # a file deleted but not yet committed is not copied
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(src)],
         cwd=src)
    (whl,) = out.glob("reelkit-*.whl")
    return whl


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """``(venv bin folder, environment)`` of a fresh venv holding the wheel, this environment's packages behind it."""
    root = tmp_path_factory.mktemp("venv")
    venv.create(root, with_pip=False)
    bin_dir = root / ("Scripts" if os.name == "nt" else "bin")
    py = bin_dir / "python"
    target = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       cwd=root).stdout.strip())
    # this environment's packages, after the venv's own: the wheel's core wins over the checkout's editable one
    (target / "zz_base_env.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", str(wheel)], cwd=root)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "REELKIT_MODEL_PATH", "NUKE_PATH")}
    env["PATH"] = str(bin_dir) + os.pathsep + env.get("PATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return bin_dir, target, env


def test_the_wheel_carries_models_and_the_nuke_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in [*(REPO / "models").iterdir(), *(REPO / "gizmos").glob("*.gizmo")]:
        folder = "core/data/models/" if f.parent.name == "models" else "core/data/nuke/gizmos/"
        assert folder + f.name in names, f
    assert {"core/data/nuke/init.py", "core/data/nuke/menu.py", "core/resources.py"} <= names
    assert not any(n.startswith(("tests/", "models/", "gizmos/")) for n in names)


def test_models_list_and_infer_from_the_installed_wheel(installed, tmp_path):
    import cv2

    bin_dir, site_dir, env = installed
    out = _run([str(bin_dir / "reelkit"), "models", "list", "--json"], cwd=tmp_path, env=env).stdout
    listed = json.loads(out)
    assert listed["path"] == [str(site_dir / "core" / "data" / "models")]  # the package's own, no checkout
    assert [m["name"] for m in listed["models"]] == ["film_restore"]
    _run([str(bin_dir / "reelkit"), "models", "verify"], cwd=tmp_path, env=env)

    crop = cv2.imread(str(SAMPLES / "chelsea.png"))[100:164, 150:246]
    cv2.imwrite(str(tmp_path / "cat.png"), crop)
    _run([str(bin_dir / "reelkit"), "infer", "--model", "film_restore", "cat.png", "--output-dir", "restored", "-q"],
         cwd=tmp_path, env=env)
    manifest = json.loads((tmp_path / "restored" / "manifest.json").read_text())
    assert manifest["model"]["path"] == str(site_dir / "core" / "data" / "models" / "film_restore.onnx")
    assert (tmp_path / "restored" / "cat.exr").stat().st_size > 0


NUKE_CHECK = """
import json, sys
from pathlib import Path
sys.path.append(sys.argv[2])  # the fake nuke's package, after site-packages: no checkout code can win
import tests.nuke.fake_nuke as nuke, tests.nuke.fake_nukescripts as nukescripts
sys.modules.update({"nuke": nuke, "nukescripts": nukescripts, "nukescripts.panels": nukescripts.panels})
target = sys.argv[1]
nuke._run_startup(target, "init.py")
nuke._run_startup(target, "menu.py")
import core, nuke_plugin
from nuke_plugin import registry
print(json.dumps([core.__file__, nuke_plugin.__file__, nuke.pluginPath(),
                  [i.name() for i in nuke.menu("Nuke").findItem("reelkit").items()]]))
for spec in registry.NODES:
    nuke.createNode(spec.name)
print(json.dumps(sorted(n.Class() for n in nuke._all_nodes)))
"""


def test_nuke_install_from_the_installed_wheel(installed, tmp_path):
    bin_dir, site_dir, env = installed
    target = tmp_path / "dot_nuke" / "reelkit"
    out = _run([str(bin_dir / "reelkit"), "nuke", "install", "--target", str(target)], cwd=tmp_path, env=env)
    assert out.stdout.splitlines()[-1] == f"nuke.pluginAddPath({str(target)!r})"
    fakes = tmp_path / "fakes" / "tests" / "nuke"
    fakes.mkdir(parents=True)
    (fakes.parent / "__init__.py").write_text("")
    for name in ("__init__.py", "fake_nuke.py", "fake_nukescripts.py", "tcl.py"):
        shutil.copy2(REPO / "tests" / "nuke" / name, fakes / name)
    done = _run([str(bin_dir / "python"), "-c", NUKE_CHECK, str(target), str(tmp_path / "fakes")], cwd=tmp_path,
                env=env)
    first, nodes = done.stdout.strip().splitlines()[-2:]
    core_file, plugin_file, plugin_path, menu = json.loads(first)
    assert Path(core_file).is_relative_to(site_dir) and Path(plugin_file).is_relative_to(site_dir)
    assert plugin_path == [str(target / "gizmos")]
    assert "Restore (model)" in menu and "About" in menu
    from nuke_plugin import registry

    assert json.loads(nodes) == sorted(spec.name for spec in registry.NODES)


def test_requires_python_is_what_the_code_parses_with():
    """Nuke 15 runs Python 3.10, Nuke 16 3.11: every module of the wheel parses as Python 3.10 (vermin 1.9
    found no newer standard library either: minimum 3.9), and pyproject.toml says 3.10."""
    import ast
    import re

    assert re.search(r'^requires-python = ">=3.10"$', (REPO / "pyproject.toml").read_text("utf-8"), re.M)
    files = [*(REPO / "core").rglob("*.py"), *(REPO / "nuke_plugin").rglob("*.py"), REPO / "init.py", REPO / "menu.py"]
    for path in files:
        ast.parse(path.read_text("utf-8"), str(path), feature_version=(3, 10))
