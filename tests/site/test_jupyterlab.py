"""The course's main job, checked in the same browser: JupyterLab (as `tools/course lab` starts it) opens a chapter
notebook, and a cell that displays an ipywidgets widget shows the widget, drawn by the widget manager."""
import contextlib, json, os, re, secrets, shutil, sys, urllib.error, urllib.request
from pathlib import Path
import pytest
from conftest import Tab, artifacts, chapters, free_port, serving

jupyter = Path(sys.executable).parent / "jupyter"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    "JupyterLab on 127.0.0.1 with a token of ours, serving a copy of chapter 1 (JupyterLab saves what it opens)."
    work = tmp_path_factory.mktemp("lab")
    served = work / "course"  # what JupyterLab shows; its log and settings live beside it
    served.mkdir()
    shutil.copy2(chapters[0], served / chapters[0].name)
    port, token = free_port(), secrets.token_hex(16)
    home = work / ".jupyter-home"  # settings, workspaces, runtime files: nothing of the user's is read or written
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "COURSE_OFFLINE": "1"}
    cmd = [str(jupyter), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={served}"]
    if os.geteuid() == 0: cmd.append("--allow-root")
    base = f"http://127.0.0.1:{port}"
    with serving(cmd, f"{base}/api/status?token={token}", work / "jupyter.log", "jupyter lab", cwd=served, env=env):
        # the token is really required: without it the API refuses
        try: urllib.request.urlopen(f"{base}/api/contents", timeout=5); refused = False
        except urllib.error.HTTPError as e: refused = e.code == 403
        assert refused, "jupyter lab answered without the token"
        yield base, token, work


def _run_in_a_new_cell(tab, base, token, code:str, marker:str):
    "As a learner would: open chapter 1, select its title cell, add a code cell under it (B), type `code`, run it (Shift+Enter)."
    page = tab.page
    tab.goto(f"{base}/lab/tree/{chapters[0].name}?token={token}")
    # the chapter is open: its title is rendered, and its kernel has started
    page.wait_for_selector(".jp-NotebookPanel .jp-MarkdownOutput h1", timeout=90_000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
    n_cells = page.locator(".jp-NotebookPanel .jp-Cell").count()
    page.locator(".jp-NotebookPanel .jp-Cell").first.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.wait_for_function(f"() => document.querySelectorAll('.jp-NotebookPanel .jp-Cell').length > {n_cells}")
    page.keyboard.press("Enter")
    page.keyboard.type(code)
    page.keyboard.press("Shift+Enter")
    return page.locator(".jp-NotebookPanel .jp-CodeCell").filter(has_text=marker).first

@contextlib.contextmanager
def _browsing(browser, lab, failure:str):
    "A tab on JupyterLab; on failure, a screenshot, the browser's errors and JupyterLab's log."
    base, token, work = lab
    tab = Tab(browser, base, viewport=(1280, 900))
    try: yield tab
    except Exception:
        artifacts.mkdir(exist_ok=True)
        tab.page.screenshot(path=str(artifacts / failure))
        print("browser errors:", tab.errors, "\njupyter log:", (work / "jupyter.log").read_text()[-3000:])
        raise
    finally: tab.close()


def test_jupyterlab_shows_a_widget_in_a_chapter(browser, lab):
    with _browsing(browser, lab, "jupyterlab-failure.png") as tab:
        cell = _run_in_a_new_cell(tab, *lab[:2], 'import ipywidgets as W\nW.IntSlider(value=7, description="seven")', "IntSlider")
        slider = cell.locator(".jp-OutputArea-output .widget-slider")
        slider.wait_for(timeout=60_000)
        artifacts.mkdir(exist_ok=True)
        tab.page.screenshot(path=str(artifacts / "jupyterlab-widget.png"))
        assert cell.locator(".widget-readout").inner_text().strip() == "7"
        assert "seven" in cell.locator(".widget-label").first.inner_text()
        assert slider.bounding_box()["width"] > 50
        # drawn by the widget manager, not left as the text fallback
        assert "IntSlider(value=7" not in cell.locator(".jp-OutputArea").inner_text()


CLEANER = """from fastai.vision.all import *
from fastai.vision.widgets import ImageClassifierCleaner
from course_lib.photos import make_standins
from course_lib.production import bear_block
make_standins("bears", n=6, size=64, kinds=("grizzly", "black", "teddy"), broken=False)
learn = vision_learner(bear_block(32).dataloaders("bears", bs=4, num_workers=0), resnet18, pretrained=False)
ImageClassifierCleaner(learn, max_n=3)"""

def test_jupyterlab_draws_chapter_4s_cleaner(browser, lab):
    "fastai's ImageClassifierCleaner, as chapter 4 shows it, drawn by JupyterLab's widget manager (ipywidgets 8 here)."
    with _browsing(browser, lab, "jupyterlab-cleaner-failure.png") as tab:
        cell = _run_in_a_new_cell(tab, *lab[:2], CLEANER, "ImageClassifierCleaner(learn")
        menus = cell.locator(".jp-OutputArea-output select")
        menus.nth(4).wait_for(timeout=120_000)  # a label menu, a set menu, and one per image: 2 + 3
        artifacts.mkdir(exist_ok=True)
        tab.page.screenshot(path=str(artifacts / "jupyterlab-cleaner.png"))
        assert menus.count() == 5
        options = menus.nth(2).locator("option").all_inner_texts()
        assert options[:2] == ["<Keep>", "<Delete>"] and set(options[2:]) == {"black", "grizzly", "teddy"}
        assert cell.locator(".jp-OutputArea-output img").count() >= 3  # each image's thumbnail, drawn


def test_jupyterlab_opens_chapter_1_with_its_answers_and_hidden_cells_collapsed(browser, lab):
    "The cells `course-lib clean` collapsed show only JupyterLab's one-line placeholder; a hidden assert's text shows once clicked."
    nb = json.loads(chapters[0].read_text())
    code = lambda c: "".join(c["source"])
    want = [n for n, c in enumerate(nb["cells"]) if c.get("metadata", {}).get("jupyter", {}).get("source_hidden")]
    n_assert = next(n for n in want if re.search(r"^\s*#\s*\|\s*hide\s*$", code(nb["cells"][n]), re.M) and "assert " in code(nb["cells"][n]))
    line = next(l.strip() for l in code(nb["cells"][n_assert]).splitlines() if l.strip().startswith("assert "))[:60]
    base, token, _ = lab
    with _browsing(browser, lab, "jupyterlab-collapsed-failure.png") as tab:
        page = tab.page
        tab.goto(f"{base}/lab/tree/{chapters[0].name}?token={token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-MarkdownOutput h1", timeout=90_000)
        # JupyterLab attaches the cells a few at a time (its windowing): wait for all of them
        page.wait_for_function(f"() => document.querySelectorAll('.jp-NotebookPanel .jp-Cell').length === {len(nb['cells'])}", timeout=60_000)
        cells = page.locator(".jp-NotebookPanel .jp-Cell")
        got = cells.evaluate_all("els => els.flatMap((e, i) => e.querySelector('.jp-InputPlaceholder') ? [i] : [])")
        assert got == want, f"collapsed in JupyterLab: {got}; in the notebook: {want}"
        cell = cells.nth(n_assert)
        cell.scroll_into_view_if_needed()
        assert cell.locator(".jp-InputPlaceholder").is_visible() and cell.locator(".jp-InputArea-editor").count() == 0
        assert line not in cell.text_content(), f"the hidden assert shows: {line!r}"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "jupyterlab-collapsed.png"))
        # all a collapsed cell shows is its first line (so that line must not be an answer: tests/test_grading.py)
        first = [(code(nb["cells"][n]).splitlines() or [""])[0] for n in want]
        assert page.locator(".jp-PlaceholderText").all_text_contents() == first
        cell.locator(".jp-InputPlaceholder .jp-Placeholder-content").click()
        cell.locator(".jp-InputArea-editor").wait_for(state="visible")
        assert line in cell.locator(".jp-InputArea-editor").inner_text()
