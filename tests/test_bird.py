"Tests of `course_lib.bird`, chapter 1's module: cheap to import; the chapter itself runs in tests/test_notebooks.py, its exercises in tests/test_checks.py."
import subprocess, sys

import pytest

# ---- importing is cheap

def _py(code): return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

@pytest.mark.parametrize("mod", ["bird", "photos"])
def test_import_leaves_fastai_and_torch_alone(mod):
    out = _py(f"import sys, course_lib.{mod}; print(sorted(" "{m.split('.')[0] for m in sys.modules} & {'fastai', 'torch'}))")
    assert out.strip() == "[]"

def test_import_is_fast():
    code = "import time; t = time.perf_counter(); import course_lib.bird; print(time.perf_counter() - t)"
    best = min(float(_py(code)) for _ in range(3))
    assert best < 0.5, f"import course_lib.bird took {best:.2f}s"


# ---- chapter 1 shows the whole game first; its plumbing lives in the toolbox's photos notebook

def _cells(name):
    import json
    from pathlib import Path
    return json.loads((Path(__file__).parent.parent / "nbs" / name).read_text())["cells"]

def test_chapter_1_trains_a_model_before_it_explains_anything():
    cells = [("".join(c["source"]), c["cell_type"]) for c in _cells("01_intro.ipynb")]
    trains = next(i for i, (s, t) in enumerate(cells) if t == "code" and ".fine_tune(" in s)
    explains = next(i for i, (s, t) in enumerate(cells) if t == "markdown" and s.startswith("## What deep learning is"))
    assert trains < explains, "chapter 1 must show the whole game (a trained model) before it takes it apart"

def test_download_plumbing_is_taught_in_the_photos_notebook_not_chapter_1():
    plumbing = ("def search_images", "def download_images", "def gather_images", "def make_standins", "def _fetch", "def _sniff")
    ch1 = "\n".join("".join(c["source"]) for c in _cells("01_intro.ipynb"))
    photos = "\n".join("".join(c["source"]) for c in _cells("photos.ipynb"))
    assert not [p for p in plumbing if p in ch1] and all(p in photos for p in plumbing)
