"Execute every notebook under nbs/ top to bottom, offline, with nbdev's own runner: one test per notebook."
import os
from pathlib import Path
import pytest
from nbdev.config import get_config
from course_lib.checks import history
from nbdev.test import test_nb as run_nb  # aliased: pytest would collect a name starting with test_

root = Path(__file__).parent.parent
cfg = get_config(root)
# clean twins are run by tests/test_checks.py: as shipped they are meant to stop at their blanks
notebooks = sorted(p for p in cfg.nbs_path.rglob("*.ipynb") if not {".ipynb_checkpoints", "clean"} & set(p.parts))

def test_there_are_notebooks(): assert len(notebooks) >= 2, f"expected the course home and a chapter in {cfg.nbs_path}"

@pytest.mark.parametrize("nb", notebooks, ids=lambda p: str(p.relative_to(cfg.nbs_path)))
def test_notebook_runs(nb, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")  # never touch the web, even where it is reachable
    skip = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else cfg.tst_flags
    start = len(history)
    ok, secs = run_nb(nb, skip_flags=skip, basepath=root, cell_timeout=300)
    assert ok, f"{nb.name} failed: the failing cell and its traceback are in 'Captured stderr' above"
    wrong = [r for r in history[start:] if not r.ok and not r.id.startswith("99.")]  # 99: the checks notebook's demos
    assert not wrong, f"{nb.name}: the full notebook must pass every check: {wrong}"
