"""Fixtures for the browser tests: the website built by CONTRIBUTING's command, served on 127.0.0.1, and a real
headless Chromium driven by Playwright. Run them with `tools/course docs-test` (they need the docs extra)."""
import contextlib, functools, http.server, json, os, re, socket, subprocess, threading, time, urllib.request
from dataclasses import dataclass
from pathlib import Path
import pytest
try: import tomllib
except ImportError: import tomli as tomllib  # Python 3.10

root = Path(__file__).resolve().parents[2]
artifacts = root / "test-artifacts"
CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
# No background traffic: this machine (like many CI machines) has no network, and Chromium's attempts would only fail.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
# Any web request a build makes goes here, and fails: the build must need no network.
NO_NET = {k: "http://127.0.0.1:9" for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")}

pyproject = tomllib.loads((root / "pyproject.toml").read_text())
nbs = root / pyproject["tool"]["nbdev"]["nbs_path"]
chapters = sorted(nbs.glob("[0-9][0-9]_*.ipynb"))


def free_port() -> int:
    "A free 127.0.0.1 port, for a server that can't be given port 0 (gradio checks itself on the port it was told)."
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

@contextlib.contextmanager
def serving(cmd:list, url:str, log:Path, name:str, timeout:float=90, **popen):
    "Run `cmd` as its own process (output to `log`) until `url` answers 200, then yield; stop it afterwards."
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never through a proxy
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, **popen)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None: pytest.fail(f"{name} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
                try:
                    with direct.open(url, timeout=2) as r:
                        if r.status == 200: break
                except OSError: pass
                if time.monotonic() > deadline: pytest.fail(f"{name} did not answer on {url} within {timeout:g} s:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
            yield proc
        finally:
            proc.terminate()
            try: proc.wait(20)
            except subprocess.TimeoutExpired: proc.kill(); proc.wait()


def notebook(path:Path) -> dict: return json.loads(path.read_text())

def src(cell) -> str: return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]

def title(path:Path) -> str:
    "The notebook's first markdown heading: what its page must be titled."
    for cell in notebook(path)["cells"]:
        if cell["cell_type"] == "markdown" and (m := re.search(r"^#\s+(.+)$", src(cell), re.M)): return m[1].strip()
    raise AssertionError(f"{path.name} has no heading")

def hidden(cell) -> bool:
    "nbdev hides a code cell marked `#| hide` from its docs."
    return cell["cell_type"] == "code" and bool(re.search(r"^\s*#\s*\|\s*hide\s*$", src(cell), re.M))


@dataclass
class Build:
    out: Path
    log: str
    seconds: float

def build_site(cwd:Path, out:Path) -> subprocess.CompletedProcess:
    "CONTRIBUTING's docs command, offline."
    return subprocess.run([str(cwd / "tools/course"), "docs", str(out)], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **NO_NET, "no_proxy": "", "NO_PROXY": ""}, timeout=900)

@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Build:
    out = tmp_path_factory.mktemp("site") / "html"
    start = time.monotonic()
    r = build_site(root, out)
    log = r.stdout + r.stderr
    if r.returncode: pytest.fail(f"`tools/course docs` failed (exit {r.returncode}):\n{log[-5000:]}")
    return Build(out, log, time.monotonic() - start)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass

@pytest.fixture(scope="session")
def server(site):
    "The built site, served on 127.0.0.1 as GitHub Pages would serve it."
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site.out)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `tools/course docs-test` installs Debian's chromium, "
                    "or set COURSE_CHROMIUM to a Chromium or Chrome binary")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


class Tab:
    """A page in a fresh browser context that records console errors, uncaught exceptions, failed requests, and
    any request that leaves `base` (which it blocks: a page must not need the network)."""
    def __init__(self, browser, base:str, viewport=(1280, 900)):
        self.base, self.errors, self.external = base, [], []
        self.context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("requestfailed", lambda r: r.url.startswith(self.base)
                     and self.errors.append(f"request failed: {r.url} ({r.failure})"))

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.base): return route.continue_()
        self.external.append(url)
        route.abort()

    def goto(self, url:str, **kw):
        resp = self.page.goto(url, wait_until="load", **kw)
        assert resp is not None and resp.status == 200, f"{url}: HTTP {resp and resp.status}"
        return resp

    def close(self): self.context.close()

@pytest.fixture
def tab(browser, server):
    t = Tab(browser, server)
    yield t
    t.close()
