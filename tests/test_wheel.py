"""`pip install` of the built wheel works from any directory: templates ship inside it."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import EXAMPLE_ENV, REPO_ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(REPO_ROOT)],
        check=True, capture_output=True, text=True,
    )
    [built] = list(dist.glob("baton_iac-*.whl"))
    return built


def test_wheel_contains_the_templates_and_the_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    templates = sorted(p.name for p in (REPO_ROOT / "templates").glob("*.j2"))
    assert templates, "templates/ is empty"
    for name in templates:
        assert f"iac/templates/{name}" in names
    assert "iac/render/_render.py" in names
    for asset in ("report.html.j2", "report.css", "report.js"):  # the access-review report's parts
        assert f"iac/review/assets/{asset}" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_installed_wheel_renders_from_another_directory(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # Dependencies come from this environment's site-packages (added after the venv's own, and
    # without processing its .pth files, so the editable install of the checkout stays invisible).
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, text=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    stack = elsewhere / "stack.py"
    stack.write_text((REPO_ROOT / "stacks" / "example.py").read_text())
    probe = subprocess.run([str(python), "-c", "import iac.render as r; print(r.templates_dir())"],
                           check=True, capture_output=True, text=True, cwd=elsewhere)
    assert probe.stdout.strip().startswith(str(site)), "templates must come from the installed wheel"
    result = subprocess.run([str(venv / "bin" / "iac"), "render", "stack.py"], capture_output=True, text=True,
                            cwd=elsewhere, env={"PATH": "/usr/bin:/bin", **EXAMPLE_ENV})
    assert result.returncode == 0, result.stderr
    assert "kind: Deployment" in result.stdout and "name: baton-okta" in result.stdout
