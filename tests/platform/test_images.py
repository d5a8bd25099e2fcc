"""Installing the course must leave Colab's and Kaggle's images untouched (needs the package index: CI runs this)."""
import importlib.metadata, subprocess, sys
from pathlib import Path
import pytest

root = Path(__file__).parents[2]
sys.path.insert(0, str(root / "images"))
import check_image


@pytest.mark.parametrize("image", ["colab", "kaggle"])
def test_install_changes_nothing(image):
    p = subprocess.run([sys.executable, root / "images/check_image.py", image, "--project", root],
                       capture_output=True, text=True)
    if p.returncode: pytest.fail(f"check_image.py {image} exit {p.returncode}:\n{p.stdout}{p.stderr}", pytrace=False)


def test_check_can_fail(tmp_path):
    "Offline: fake dist-infos read back as installed, and a report that upgrades one of them is a change."
    image = {"ipywidgets": ("ipywidgets", "7.7.1"), "torch": ("torch", "2.11.0+cu128")}
    check_image.declare(tmp_path, image)
    found = {d.metadata["Name"]: d.version for d in importlib.metadata.distributions(path=[str(tmp_path)])}
    assert found == {"ipywidgets": "7.7.1", "torch": "2.11.0+cu128"}
    report = {"install": [{"metadata": {"name": "course-lib", "version": "0.1.0"}},
                          {"metadata": {"name": "IPyWidgets", "version": "8.1.9"}}]}
    assert check_image.changed(report, image) == ["IPyWidgets: image has 7.7.1, pip would install 8.1.9"]
    assert check_image.changed({"install": report["install"][:1]}, image) == []
    # A package Kaggle installs unpinned counts only when pip's version breaks Kaggle's own specifier.
    unknown = {"fastcore": ("fastcore", "<2")}
    up = {"install": [{"metadata": {"name": "fastcore", "version": "2.2.41"}}]}
    assert check_image.unsure(up, unknown) == ["fastcore: image has a version matching '<2', pip would install 2.2.41"]
    assert check_image.unsure({"install": [{"metadata": {"name": "fastcore", "version": "1.8.0"}}]}, unknown) == []


def test_freeze_parsing(tmp_path):
    "Offline: `name @ url` lines are skipped and counted; names are PEP 503 normalised."
    f = tmp_path / "freeze.txt"
    f.write_text("# comment\nJupyterLab_Widgets==3.0.16\ngoogle-colab @ file:///colabtools/dist/g.tar.gz\n")
    assert check_image.read_freeze(f) == ({"jupyterlab-widgets": ("JupyterLab_Widgets", "3.0.16")}, 1)


@pytest.mark.parametrize("image", ["colab", "kaggle"])
def test_space_requirements_install_from_the_index(image, tmp_path):
    """Chapter 4's Space, written where Colab or Kaggle report their own torch builds (2.11.0+cu128…): pip finds every
    pinned package on the index (a dry run: metadata only). The course-lib line points to GitHub, unreachable here."""
    from course_lib.production import write_space
    model = tmp_path / "model"; model.mkdir()
    for f in ("model.pth", "model.json"): (model / f).write_bytes(b"")  # write_space only copies them
    reqs = (write_space(tmp_path / "space", model, versions=check_image.versions(image)) / "requirements.txt").read_text().splitlines()
    pins = [r for r in reqs if not r.startswith("course-lib @ ")]
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed", "--quiet", *pins],
                       capture_output=True, text=True)
    assert p.returncode == 0, f"the Space's pins for {image} don't install from the package index: {pins}\n{p.stderr[-800:]}"
