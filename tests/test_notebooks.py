"Execute every notebook under nbs/ top to bottom, offline, with nbdev's own runner: one test per notebook."
import os
from pathlib import Path
import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_nb  # aliased: pytest would collect a name starting with test_

root = Path(__file__).parent.parent
cfg = get_config(root)
notebooks = sorted(p for p in cfg.nbs_path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)

def test_there_are_notebooks(): assert len(notebooks) >= 2, f"expected the course home and a chapter in {cfg.nbs_path}"

@pytest.mark.parametrize("nb", notebooks, ids=lambda p: str(p.relative_to(cfg.nbs_path)))
def test_notebook_runs(nb, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")  # never touch the web, even where it is reachable
    skip = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else cfg.tst_flags
    ok, secs = run_nb(nb, skip_flags=skip, basepath=root, cell_timeout=300)
    assert ok, f"{nb.name} failed: the failing cell and its traceback are in 'Captured stderr' above"
