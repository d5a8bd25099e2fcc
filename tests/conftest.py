"""Every test run keeps `check`'s progress file (course_lib.checks.progress) in a temporary folder, never in the home
directory. Under pytest-xdist (the README's command runs two workers) each worker gets its share of the CPU's threads."""
import os, tempfile

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
    first = ("08_", "09_", "01_", "04_", "05_", "06_", "07_", "03_", "02_")  # measured longest first (chapter 8 fine-tunes a transformer): the last to start are short
    def rank(item):
        if not item.nodeid.startswith("tests/test_notebooks.py::test_notebook_runs["): return len(first) + 1
        name = item.nodeid.split("[", 1)[1]
        return next((i for i, p in enumerate(first) if name.startswith(p)), len(first))
    for item in items:
        if rank(item) < len(first): item.add_marker(pytest.mark.xdist_group(item.nodeid.split("[", 1)[1].rstrip("]")))
    items.sort(key=rank)  # stable: the rest keep their order
