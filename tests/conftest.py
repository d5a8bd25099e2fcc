"""Every test run keeps `check`'s progress file (course_lib.checks.progress) in a temporary folder, never in the home
directory. Under pytest-xdist (the README's command runs two workers) each worker gets its share of the CPU's threads."""
import os, tempfile

def pytest_configure(config):
    os.environ["COURSE_PROGRESS"] = os.path.join(tempfile.mkdtemp(prefix="course_progress_"), "progress.json")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:  # two workers each using every core would fight over them
        import torch
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
