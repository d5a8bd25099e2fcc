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
