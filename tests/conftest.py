"""Every test run keeps `check`'s progress file (course_lib.checks.progress) in a temporary folder, never in the home
directory. Under pytest-xdist (the README's command runs two workers) each worker gets its share of the CPU's threads.
Each notebook's IPython shell is let go when its test ends."""
import atexit, os, tempfile
import pytest

def pytest_configure(config):
    os.environ["COURSE_PROGRESS"] = os.path.join(tempfile.mkdtemp(prefix="course_progress_"), "progress.json")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:  # two workers each using every core would fight over them
        import torch
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))

def pytest_collection_modifyitems(config, items):
    """Each chapter's notebook run is a unit of its own, the longest first: under `--dist loadgroup` (the README's
    command) the two workers start on different chapters, and the rest, a test module at a time, goes to whichever
    worker is free."""
    import pytest
    first = ("08_", "09_", "10_", "01_", "04_", "05_", "06_", "07_", "03_", "02_")  # measured longest first (chapter 8 fine-tunes a transformer): the last to start are short
    def rank(item):
        if not item.nodeid.startswith("tests/test_notebooks.py::test_notebook_runs["): return len(first) + 1
        name = item.nodeid.split("[", 1)[1]
        return next((i for i, p in enumerate(first) if name.startswith(p)), len(first))
    for item in items:
        if rank(item) < len(first): item.add_marker(pytest.mark.xdist_group(item.nodeid.split("[", 1)[1].rstrip("]")))
    items.sort(key=rank)  # stable: the rest keep their order

_shells = []  # the notebook shells made during the current test

def pytest_sessionstart(session):
    "Note each shell nbdev's runner (execnb's `CaptureShell`) makes, so that the test's end can let it go."
    from execnb.shell import CaptureShell
    init = CaptureShell.__init__
    def noted(self, *args, **kwargs):
        init(self, *args, **kwargs)
        _shells.append(self)
    CaptureShell.__init__ = noted

@pytest.fixture(autouse=True)
def _let_shells_go():
    """IPython registers every shell to run at exit, which keeps each notebook's variables (models, data) alive for the
    rest of the worker, and made the workers' exit take about ten seconds: unregister each shell and stop its loop."""
    yield
    while _shells:
        sh = _shells.pop()
        atexit.unregister(sh.atexit_operations)
        sh.loop.call_soon_threadsafe(sh.loop.stop)
