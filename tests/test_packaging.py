"""The package layout promised by DESIGN.md: one namespace, no heavy imports, no generic top-level names."""

import subprocess
import sys
from pathlib import Path

PACKAGES = ["spermtrack", "spermtrack.schema", "spermtrack.io", "spermtrack.cli", "spermtrack.detectors",
            "spermtrack.tracker", "spermtrack.kinematics", "spermtrack.eval", "spermtrack.regressors"]


def _run(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_importing_packages_does_not_import_torch_or_ultralytics(tmp_path):
    code = ("import importlib, sys\n"
            f"for name in {PACKAGES!r}: importlib.import_module(name)\n"
            "heavy = [m for m in ('torch', 'ultralytics', 'torchvision') if m in sys.modules]\n"
            "print(','.join(heavy))\n")
    result = _run(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_card_folders_map_into_one_namespace(tmp_path):
    code = ("import importlib.util as u, spermtrack.tracker as t, spermtrack.eval as e\n"
            "print(t.__file__.replace('\\\\', '/').split('/')[-2], e.__file__.replace('\\\\', '/').split('/')[-2])\n"
            "print([n for n in ('tracker', 'eval', 'detectors', 'kinematics', 'regressors') if u.find_spec(n)])\n")
    result = _run(code, tmp_path)
    assert result.returncode == 0, result.stderr
    folders, generic = result.stdout.strip().splitlines()
    assert folders == "tracker eval"
    assert generic == "[]"


def test_every_source_package_is_installed():
    """Each folder with an __init__.py under a mapped source folder is listed in pyproject's packages."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    setup = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(setup["packages"])
    for package, folder in setup["package-dir"].items():
        for init in (root / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(root / folder).parts
            name = ".".join((package, *rel))
            mapped_elsewhere = any(name.startswith(p + ".") or name == p for p in setup["package-dir"] if p != package
                                   and p.startswith(package + "."))
            assert name in listed or mapped_elsewhere, f"{name} ({init.parent}) is not in pyproject's packages"


def test_analyze_with_blob_or_onnx_yolo_imports_neither_torch_nor_ultralytics(fault_clip, tmp_path):
    """The slim install's main job: analyze (report and annotated video included) without PyTorch."""
    video = fault_clip / "1"
    code = ("import sys\n"
            "from spermtrack.cli import main\n"
            f"for detector in ('blob', 'yolo'):\n"
            f"    rc = main(['analyze', {str(video)!r}, '--um-per-px', '0.351', '--detector', detector, '--out', "
            f"{str(tmp_path)!r} + '/' + detector, '--quiet'])\n"
            "    assert rc == 0, rc\n"
            "print('heavy:', [m for m in ('torch', 'ultralytics', 'torchvision') if m in sys.modules])\n")
    result = _run(code, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "heavy: []"


def test_work_that_needs_pytorch_says_which_extra_in_one_line(monkeypatch):
    import importlib.util

    import pytest

    from spermtrack.errors import InputError
    from spermtrack.extras import require
    from spermtrack.regressors import regressor_class

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(InputError, match=r'^the flow2d regressor needs torch, which this install leaves out: '
                                         r'pip install "spermtrack\[train\]"$'):
        regressor_class("flow2d")
    assert regressor_class("trackfeat").name == "trackfeat"  # ridge regression: numpy only
    with pytest.raises(InputError, match="training a YOLO detector needs torch"):
        require("torch", "ultralytics", purpose="training a YOLO detector")
