"Every test run keeps `check`'s progress file (course_lib.checks.progress) in a temporary folder, never in the home directory."
import os, tempfile

def pytest_configure(config):
    os.environ["COURSE_PROGRESS"] = os.path.join(tempfile.mkdtemp(prefix="course_progress_"), "progress.json")
