"""The kinematics package depends on the data contract only (DESIGN.md: dependencies run one way)."""

import subprocess
import sys


def test_kinematics_imports_only_schema_and_errors(tmp_path):
    code = ("import sys, spermtrack.kinematics\n"
            "print(sorted(m for m in sys.modules if m.startswith('spermtrack') and not m.startswith("
            "'spermtrack.kinematics')))\n"
            "print([m for m in ('torch', 'ultralytics', 'cv2') if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    ours, heavy = out.stdout.strip().splitlines()
    assert ours == "['spermtrack', 'spermtrack._validate', 'spermtrack.constants', 'spermtrack.errors', 'spermtrack.schema']"
    assert heavy == "[]"
