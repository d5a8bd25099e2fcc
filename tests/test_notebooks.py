"""Execute every notebook under nbs/ top to bottom, offline, with nbdev's own runner: one test per notebook.
Then move every slider the notebook made, under the installed ipywidgets (8 here, Colab's 7 in the Colab-version run)."""
import os
from pathlib import Path
import pytest
import ipywidgets
from nbdev.config import get_config
from course_lib.checks import history
from nbdev.test import test_nb as run_nb  # aliased: pytest would collect a name starting with test_

root = Path(__file__).parent.parent
cfg = get_config(root)
# clean twins are run by tests/test_checks.py: as shipped they are meant to stop at their blanks
skip = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else cfg.tst_flags  # cells nbdev's runner leaves out
notebooks = sorted(p for p in cfg.nbs_path.rglob("*.ipynb") if not {".ipynb_checkpoints", "clean"} & set(p.parts))

def test_there_are_notebooks(): assert len(notebooks) >= 2, f"expected the course home and a chapter in {cfg.nbs_path}"

@pytest.mark.parametrize("nb", notebooks, ids=lambda p: str(p.relative_to(cfg.nbs_path)))
def test_notebook_runs(nb, monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")  # never touch the web, even where it is reachable
    start, before = len(history), set(_widgets())
    ok, secs = run_nb(nb, skip_flags=skip, basepath=root, cell_timeout=300)
    assert ok, f"{nb.name} failed: the failing cell and its traceback are in 'Captured stderr' above"
    # the checks notebook shows every kind of result on purpose: its wrong and blank answers are demonstrations
    wrong = [r for r in history[start:] if not r.ok] if nb.stem != "checks" else []
    assert not wrong, f"{nb.name}: the full notebook must pass every check: {wrong}"
    sliders = [w for k, w in _widgets().items() if k not in before and isinstance(w, ipywidgets.interactive)]
    assert len(sliders) >= nb.read_text().count("interact("), f"{nb.name}: an `interact(` made no widget"
    for w in sliders: _move_every_control(w, nb.name)

def _widgets() -> dict:
    "Every live widget by id: ipywidgets 8 keeps them in `widget._instances`, 7 in `Widget.widgets`."
    from ipywidgets.widgets import widget
    return dict(getattr(widget, "_instances", None) or widget.Widget.widgets)

def _move_every_control(w, name):
    "Set each control of an `interact` to another value, as a learner dragging it would, and check the function reran."
    calls = []
    def f(**kw):
        calls.append(kw)
        try: return orig(**kw)
        except Exception as e: calls.append(e); raise  # ipywidgets shows the traceback in the notebook, not to us
    orig, w.f = w.f, f
    import matplotlib.pyplot as plt
    try:
        for c in w.kwargs_widgets:
            options = [v for _, v in c._options_full] if hasattr(c, "_options_full") else [c.min, (c.min + c.max) / 2, c.max]
            new = next(v for v in options if v != c.value)
            c.value = new
            assert not any(isinstance(x, Exception) for x in calls), f"{name}: slider {c.description!r} at {new} raised {calls[-1]!r}"
            assert calls and calls[-1].get(c._kwarg) == new, f"{name}: moving slider {c.description!r} to {new} didn't rerun its function"
    finally: w.f = orig; plt.close("all")

@pytest.mark.other_paths
def test_chapter_1_without_tux_paint_draws_stand_ins_and_says_so(tmp_path, monkeypatch):
    """A machine without apt-get (or whose set-up couldn't fetch Tux Paint's photos) has an empty course cache: chapter 1
    offline then trains on drawn stand-ins, says so in its data cell, passes every check, and never claims real photos.
    A copy runs in `tmp_path`, with the course cache there too (the ImageNet weights are converted into it afresh)."""
    import json, shutil
    from course_lib.photos import tuxpaint_photos
    work = tmp_path / "nbs"; work.mkdir()
    nb = work / "01_intro.ipynb"
    shutil.copy(cfg.nbs_path / nb.name, nb)
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    assert tuxpaint_photos(tmp_path / "probe") is None, "the empty cache should hold no Tux Paint photos"
    start = len(history)
    ok, _ = run_nb(nb, skip_flags=skip, basepath=root, cell_timeout=300, save=True)
    assert ok, "chapter 1 failed on the drawn stand-ins: the failing cell and its traceback are in 'Captured stderr' above"
    wrong = [r for r in history[start:] if not r.ok]
    assert not wrong, f"chapter 1 on the drawn stand-ins must pass every check: {wrong}"
    text = "\n".join("".join(o.get("text", "")) for c in json.loads(nb.read_text())["cells"] for o in c.get("outputs", []))
    assert "OFFLINE STAND-IN: these are drawn pictures, not photos" in text, "the data cell didn't say the pictures are drawn"
    assert "tuxpaint" not in text.lower(), "a cell spoke of Tux Paint's photos on the drawn path"
    assert sorted(d.name for d in (work / "bird_or_forest_drawn").iterdir() if d.is_dir()) == ["bird", "forest"]
    assert not (work / "bird_or_other").exists()
