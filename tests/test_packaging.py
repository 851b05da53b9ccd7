"""The package layout promised by DESIGN.md: one namespace, no heavy imports, no generic top-level names."""

import subprocess
import sys

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
