"""Re-download Colab's and Kaggle's package lists into images/ and record where they came from.

Usage: python images/refresh.py   (needs api.github.com and raw.githubusercontent.com; stdlib only)
"""
import json, re, sys, urllib.error, urllib.request
from pathlib import Path

HERE = Path(__file__).parent
COLAB, KAGGLE = "googlecolab/backend-info", "Kaggle/docker-python"


def get(url: str) -> bytes:
    "Body of `url`, or exit with one line saying what could not be reached."
    try:
        with urllib.request.urlopen(url, timeout=30) as r: return r.read()
    except (urllib.error.URLError, OSError) as e:
        sys.exit(f"refresh: cannot fetch {url}: {getattr(e, 'reason', e)}")


def last_commit(repo: str, path: str = "", until: str = "") -> dict:
    "Sha and date of the newest commit of `repo` touching `path`, made no later than `until` (an ISO date)."
    q = "&".join(f"{k}={v}" for k, v in [("per_page", 1), ("path", path), ("until", until)] if v)
    c = json.loads(get(f"https://api.github.com/repos/{repo}/commits?{q}"))[0]
    return dict(repo=f"https://github.com/{repo}", commit=c["sha"], date=c["commit"]["committer"]["date"])


def save(repo: str, sha: str, src: str, dest: str) -> str:
    "Write `src` of `repo` at `sha` to images/`dest`; return its text."
    text = get(f"https://raw.githubusercontent.com/{repo}/{sha}/{src}").decode()
    (HERE / dest).write_text(text)
    return text


def readme_block(snap: dict) -> str:
    "The dated lines between the snapshot markers of images/README.md."
    c, k, b = snap["colab"], snap["kaggle"], snap["kaggle"]["colab_base"]
    return "\n".join([
        f"- colab/: {c['repo']} at `{c['commit']}` ({c['date']})",
        f"- kaggle/kaggle_requirements.txt: {k['repo']} at `{k['commit']}` ({k['date']}); base image `{k['base_image']}`",
        f"- kaggle/colab-base-*: {b['repo']} at `{b['commit']}` ({b['date']}), its newest freeze not after the base image's date",
    ])


def main():
    colab = last_commit(COLAB, "pip-freeze.gpu.txt")
    for f in ("pip-freeze.gpu.txt", "os-info-gpu.txt"): save(COLAB, colab["commit"], f, f"colab/{f}")
    kaggle = last_commit(KAGGLE)
    save(KAGGLE, kaggle["commit"], "kaggle_requirements.txt", "kaggle/kaggle_requirements.txt")
    # Kaggle builds FROM a dated Colab image, usually months older than Colab's newest: find that one's freeze.
    tmpl = get(f"https://raw.githubusercontent.com/{KAGGLE}/{kaggle['commit']}/Dockerfile.tmpl").decode()
    kaggle["base_image"] = re.search(r"^FROM (\S*colab-images/public/runtime:\S+)", tmpl, re.M)[1]
    d = re.search(r"_(\d{4})(\d\d)(\d\d)-", kaggle["base_image"]).groups()
    base = kaggle["colab_base"] = last_commit(COLAB, "pip-freeze.gpu.txt", "{}-{}-{}T23:59:59Z".format(*d))
    for f in ("pip-freeze.gpu.txt", "os-info-gpu.txt"): save(COLAB, base["commit"], f, f"kaggle/colab-base-{f}")
    snap = dict(colab=colab, kaggle=kaggle)
    (HERE / "SNAPSHOT.json").write_text(json.dumps(snap, indent=1) + "\n")
    readme = HERE / "README.md"
    readme.write_text(re.sub(r"(?s)(<!-- snapshot -->\n).*?(\n<!-- /snapshot -->)",
                             lambda m: m[1] + readme_block(snap) + m[2], readme.read_text()))
    print(readme_block(snap))


if __name__ == "__main__": main()
