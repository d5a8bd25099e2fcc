"""The Colab-version environment (`tools/course platform-test` builds .venv-colab) really has Colab's versions.

The default test suite then runs in it: whatever fails there is a bug of the course on Colab."""
import importlib.metadata, os, re, sys
from pathlib import Path
import pytest

root = Path(__file__).parents[2]
KEY = ["torch", "torchvision", "fastai", "fastcore", "fastprogress", "ipywidgets", "widgetsnbextension", "ipython",
       "ipykernel", "numpy", "pillow", "matplotlib", "pandas", "requests", "urllib3"]

def _freeze() -> dict:
    lines = (root / "images/colab/pip-freeze.gpu.txt").read_text().splitlines()
    return {m[1].lower().replace("_", "-"): m[2] for l in lines if (m := re.fullmatch(r"([\w.-]+)==([^\s+]+)\S*", l.strip()))}

pytestmark = pytest.mark.skipif(os.environ.get("COURSE_IMAGE") != "colab", reason="only in .venv-colab (tools/course platform-test)")

def test_python_is_colabs():
    want = re.search(r"Python (3\.\d+)", (root / "images/colab/os-info-gpu.txt").read_text())[1]
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == want

@pytest.mark.parametrize("name", KEY)
def test_key_package_is_colabs_version(name):
    image = _freeze()
    if name not in image: pytest.skip(f"Colab doesn't ship {name}: the course installs it")
    have = importlib.metadata.version(name).split("+")[0]
    assert have == image[name], f"{name}: .venv-colab has {have}, Colab has {image[name]}"
