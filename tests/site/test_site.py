"""The course website, built offline by CONTRIBUTING's command (`tools/course docs`) and opened in a real headless
Chromium: every page loads cleanly, chapters show their plots and launch links, links resolve, search works."""
import collections, html.parser, json, re, shutil, struct, urllib.error, urllib.parse, urllib.request
from pathlib import Path
import pytest
from conftest import (Tab, artifacts, build_site, chapters, hidden, nbs, notebook, pyproject, root, src, title)

repository = pyproject["project"]["urls"]["Repository"].rstrip("/")
branch = pyproject["tool"]["nbdev"]["branch"]
others = sorted(p for p in nbs.glob("*.ipynb") if p not in chapters and p.stem != "index")  # e.g. checks
# every page the site must have: (page, the heading its title must carry)
pages = [("index", title(nbs / "index.ipynb"))] + [(p.stem, title(p)) for p in chapters + others] + \
        [("clean-notebooks", "How to use the clean notebooks"), ("teaching", "For teachers: grading a class"), ("data", "Data card: every data set and weight file"),
         ("benchmarks", "Benchmarks: the course"), ("api", "API reference")]

def _has_math(p): return any(c["cell_type"] == "markdown" and re.search(r"\$[^$\s][^$]*\$", src(c))
                              for c in notebook(p)["cells"])
math_pages = {p.stem for p in nbs.glob("*.ipynb") if _has_math(p)}

def colab(path): return f"https://colab.research.google.com/github/{repository.removeprefix('https://github.com/')}/blob/{branch}/{path}"
def kaggle(path): return f"https://kaggle.com/kernels/welcome?src={repository}/blob/{branch}/{path}"

ids = lambda p: p.stem


def test_there_are_chapters(): assert chapters, f"no chapter notebooks (NN_name.ipynb) in {nbs}"

def test_site_builds_offline_with_warnings_as_errors(site):
    "The fixture ran `tools/course docs` with no network (a dead proxy) and -W; it must leave every page."
    assert "WARNING" not in site.log, site.log
    for page, _ in pages: assert (site.out / f"{page}.html").is_file(), f"the build made no {page}.html"
    assert (site.out / "search.html").is_file() and (site.out / "searchindex.js").is_file()
    print(f"site built in {site.seconds:.1f} s")

def _copy_project(dest:Path):
    "What the docs build reads, without build outputs or chapter data; .venv is shared."
    for f in ["pyproject.toml", "tools/course", *map(str, Path(root).glob("course_lib/*.py"))]:
        f = Path(f).relative_to(root) if Path(f).is_absolute() else Path(f)
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / f, dest / f)
    shutil.copytree(root / "docs", dest / "docs", ignore=shutil.ignore_patterns("_build", "*.ipynb"))
    for nb in [*nbs.glob("*.ipynb"), *(nbs / "clean").glob("*.ipynb")]:
        (dest / nb.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(nb, dest / nb.relative_to(root))
    (dest / ".venv").symlink_to(root / ".venv")

def test_a_new_chapter_is_built_and_its_warnings_fail_the_build(tmp_path):
    "A chapter the site has never heard of is picked up, and a broken link in it fails the build (-W)."
    _copy_project(tmp_path)
    nb = notebook(chapters[0])
    nb["cells"] = [{"cell_type": "markdown", "id": "t", "metadata": {}, "source": "# Chapter 99: Broken"},
                   {"cell_type": "markdown", "id": "l", "metadata": {}, "source": "See [this](nowhere_at_all.ipynb)."}]
    for d in (tmp_path / "nbs", tmp_path / "nbs/clean"): (d / "99_broken.ipynb").write_text(json.dumps(nb))
    r = build_site(tmp_path, tmp_path / "out/html")
    log = r.stdout + r.stderr
    assert r.returncode != 0, f"a broken link must fail the build:\n{log[-3000:]}"
    assert "99_broken" in log and "nowhere_at_all" in log, log[-3000:]


@pytest.mark.parametrize("page,heading", pages, ids=[p for p, _ in pages])
def test_page_loads_without_errors(tab, server, page, heading):
    "Loads with no console error, no uncaught exception, no failed request and nothing fetched from the web."
    tab.goto(server + f"{page}.html")
    tab.page.wait_for_load_state("networkidle")
    # math is MathML, drawn by the browser: each formula is there, and takes up room
    sizes = tab.page.locator(".math").evaluate_all("els => els.map(e => { const m = e.querySelector('math');"
                                                   " return m ? m.getBoundingClientRect().width : -1; })")
    assert all(w > 0 for w in sizes), f"{page}.html: formulas that did not render: {sizes}"
    assert heading in tab.page.title(), f"{page}.html is titled {tab.page.title()!r}"
    if page in math_pages: assert sizes, f"{page}.html shows none of its notebook's formulas"
    assert not tab.errors, f"{page}.html: {tab.errors}"
    assert not tab.external, f"{page}.html fetched from the web: {tab.external}"
    # the sidebar lists every chapter
    side = tab.page.locator(".bd-sidebar-primary a").evaluate_all("els => els.map(e => e.href.split('#')[0])")
    for ch in chapters: assert tab.base + f"{ch.stem}.html" in side, f"{page}.html: the sidebar lacks {ch.stem}"


def _expected_images(nb:dict) -> int:
    n = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or hidden(cell) or re.search(r"^#\|\s*output:\s*false", src(cell), re.M):
            continue
        n += sum(1 for o in cell.get("outputs", []) if {"image/png", "image/jpeg"} & o.get("data", {}).keys())
    return n

@pytest.mark.parametrize("chapter", chapters, ids=ids)
def test_chapter_shows_its_plots(tab, server, chapter):
    "Every image output of every visible cell is on the page, and loaded."
    want = _expected_images(notebook(chapter))
    tab.goto(server + f"{chapter.stem}.html")
    imgs = tab.page.locator(".cell_output img").evaluate_all(
        "els => els.map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0}))")
    broken = [i["src"] for i in imgs if not i["ok"]]
    assert not broken, f"{chapter.stem}: images that did not load: {broken}"
    assert len(imgs) == want, f"{chapter.stem}: {len(imgs)} images on the page, {want} in the notebook"


@pytest.mark.parametrize("chapter", chapters, ids=ids)
def test_chapter_links_to_colab_kaggle_and_its_clean_version(tab, server, chapter):
    full, clean = f"{nbs.name}/{chapter.name}", f"{nbs.name}/clean/{chapter.name}"
    assert (root / full).is_file() and (root / clean).is_file()
    tab.goto(server + f"{chapter.stem}.html")
    hrefs = lambda sel: tab.page.locator(sel).evaluate_all("els => els.map(e => e.href)")
    box = hrefs(".course-launch a")
    for url in (colab(full), kaggle(full), colab(clean)): assert url in box, f"{chapter.stem}: no {url} in {box}"
    header = hrefs(".dropdown-launch-buttons a")
    assert sorted(header) == sorted([colab(full), kaggle(full)]), f"{chapter.stem}: header launch menu {header}"
    anywhere = [h for h in hrefs("a") if "colab.research.google.com" in h or "kaggle.com" in h]
    assert set(anywhere) <= {colab(full), kaggle(full), colab(clean)}, f"{chapter.stem}: stray launch links {anywhere}"
    # the download link hands over the clean notebook itself
    dl = tab.page.locator(".course-launch a[download]")
    assert dl.count() == 1 and "clean version" in dl.inner_text()
    body = tab.page.request.get(dl.evaluate("e => e.href")).body()
    assert body == (root / clean).read_bytes(), f"{chapter.stem}: the download is not {clean}"
    # where its outputs came from, read off them: the path and the device its environment cell reported
    env = next(t for c in notebook(chapter)["cells"] if c["cell_type"] == "code"
               for t in ["".join("".join(o.get("text", "")) for o in c.get("outputs", []))] if "Running on:" in t)
    said = tab.page.locator(".course-launch").inner_text()
    path = "the offline path" if "Internet: off" in env else "the online path"
    device = "the CPU (no GPU)" if "No GPU" in env else "a GPU"
    assert "The outputs on this page" in said and path in said and device in said, f"{chapter.stem}: {said!r}"


def _code(text:str) -> str: return "\n".join(l.rstrip() for l in text.strip().splitlines())

def _strip_directives(code:str) -> str:
    lines = code.splitlines()
    while lines and (not lines[0].strip() or re.match(r"\s*#\s*\|", lines[0])): lines.pop(0)
    return _code("\n".join(lines))

@pytest.mark.parametrize("nb", chapters + others, ids=ids)
def test_nbdev_directives_are_honoured(tab, server, nb):
    "`#| hide` cells are not shown; `#|` lines are not shown; library code (`#| export`) is shown without them."
    tab.goto(server + f"{nb.stem}.html")
    shown = [_code(t) for t in tab.page.locator(".cell_input pre").evaluate_all("els => els.map(e => e.textContent)")]
    visible = [c for c in notebook(nb)["cells"] if c["cell_type"] == "code" and not hidden(c) and _strip_directives(src(c)).strip()]
    assert shown or not visible, f"{nb.stem}.html shows no code"  # a page of prose only, like the Questions page, shows none
    directive_lines = [l for t in shown for l in t.splitlines() if re.match(r"\s*#\s*\|", l)]
    assert not directive_lines, f"{nb.stem}.html shows nbdev directives: {directive_lines}"
    code = [c for c in notebook(nb)["cells"] if c["cell_type"] == "code"]
    for c in [c for c in code if hidden(c) and _strip_directives(src(c))]:
        body = _strip_directives(src(c))
        assert not any(body in t for t in shown), f"{nb.stem}.html shows a #| hide cell:\n{body[:300]}"
    exported = [_strip_directives(src(c)) for c in code
                if not hidden(c) and re.search(r"^\s*#\s*\|\s*export", src(c), re.M)]
    missing = [e[:200] for e in exported if e and e not in shown]
    assert not missing, f"{nb.stem}.html lacks exported code: {missing}"


def _collapsed(nb:dict) -> list:
    "The code cells Jupyter opens collapsed (`course-lib clean`) that the site shows: the solutions of questionnaire and apply-it exercises."
    return [c for c in nb["cells"] if c["cell_type"] == "code" and not hidden(c) and c["metadata"].get("jupyter", {}).get("source_hidden")]

@pytest.mark.parametrize("chapter", chapters, ids=ids)
def test_answers_stay_collapsed_until_clicked(tab, server, chapter):
    "Each collapsed answer is behind a toggle; a questionnaire's toggle names its question, and its answer shows only once clicked."
    collapsed = _collapsed(notebook(chapter))
    quiz = [c for c in collapsed if src(c).startswith("# ") and re.search(r"^answer = .+#\s*SOLUTION\s*$", src(c), re.M)]
    assert quiz, f"{chapter.stem}: no collapsed questionnaire answer"
    question = src(quiz[0]).splitlines()[0].lstrip("# ").strip()
    answer = next(l for l in src(quiz[0]).splitlines() if re.search(r"#\s*SOLUTION\s*$", l))
    tab.goto(server + f"{chapter.stem}.html")
    toggles = tab.page.locator("details.hide.above-input")
    assert toggles.count() == len(collapsed), f"{chapter.stem}: {toggles.count()} toggles, {len(collapsed)} collapsed cells"
    box = toggles.filter(has=tab.page.locator("summary", has_text=question))
    assert box.count() == 1, f"{chapter.stem}: no toggle names {question!r}"
    summary, code = box.locator("summary"), box.locator(".cell_input")
    summary.scroll_into_view_if_needed()
    assert "show the answer" in summary.inner_text() and question in summary.inner_text()
    assert code.is_hidden() and answer not in tab.page.locator("article").inner_text(), f"{chapter.stem}: {answer!r} is visible unclicked"
    summary.click()
    code.wait_for(state="visible")
    assert answer.strip() in code.inner_text() and "Hide the answer" in summary.inner_text()
    assert not tab.errors, tab.errors


def _public_api():
    "(module, name, notebook) for every function and class each course_lib module exports, from its source."
    import ast
    for py in sorted((root / pyproject["tool"]["nbdev"]["lib_path"]).glob("[!_]*.py")):
        text = py.read_text()
        m = re.search(r"File to edit: \S*?([^/\s]+)\.ipynb", text)
        if not m: continue
        tree = ast.parse(text)
        names = next((ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                      and any(getattr(t, "id", "") == "__all__" for t in n.targets)), [])
        defs = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        for name in names:
            if name in defs: yield f"{py.parent.name}.{py.stem}", name, m[1]

def test_api_reference_links_every_entry_to_where_its_chapter_defines_it(tab, server):
    api = list(_public_api())
    assert len(api) > 10
    tab.goto(server + "api.html")
    links = tab.page.evaluate("""() => Object.fromEntries(
        Array.from(document.querySelectorAll('dl.py > dt[id]')).map(dt => {
            const a = Array.from(dt.parentElement.querySelector(':scope > dd').querySelectorAll(':scope > p'))
                .filter(p => p.textContent.startsWith('Defined in')).map(p => p.querySelector('a'))[0];
            return [dt.id, a ? a.href : null]; }))""")
    wrong = []
    for mod, name, nb in api:
        href = links.get(f"{mod}.{name}")
        if not href or not href.startswith(server + f"{nb}.html#"):
            wrong.append(f"{mod}.{name}: {href}")
            continue
        tab.page.goto(href)
        cell = tab.page.evaluate("frag => { const e = document.getElementById(frag);"
                                 " const c = e && e.closest('.cell'); return c ? c.textContent : null; }",
                                 urllib.parse.unquote(href.split("#", 1)[1]))
        if not cell or not re.search(rf"(def|class)\s+{re.escape(name)}\b", cell):
            wrong.append(f"{mod}.{name}: {href} is not the cell that defines it")
    assert not wrong, f"API entries without a right link to their chapter: {wrong}"


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a: self.ids.add(a["id"])
        if tag == "a" and "name" in a: self.ids.add(a["name"])
        for key in {"a": "href", "link": "href", "img": "src", "script": "src"}.get(tag, "").split():
            if a.get(key): self.links.append(a[key])

def test_internal_links_resolve(server):
    "Crawl from the home page: every link, image, script and stylesheet on the site is there, anchors included."
    crawled, queue, seen, bad = {}, collections.deque([server + "index.html"]), set(), []
    anchors = []  # (page, target url, fragment)
    while queue:
        url = queue.popleft()
        if url in seen: continue
        seen.add(url)
        try: body = urllib.request.urlopen(url, timeout=10).read()
        except urllib.error.URLError as e:
            bad.append(f"{url}: {e}")
            continue
        if not url.split("?")[0].endswith(".html"): continue
        p = _Links()
        p.feed(body.decode())
        crawled[url] = p.ids
        for link in p.links:
            target = urllib.parse.urljoin(url, link)
            if not target.startswith(server): continue  # the web: not ours to check here
            target, _, frag = target.partition("#")
            if frag: anchors.append((url, target, urllib.parse.unquote(frag)))
            queue.append(target)
    assert not bad, f"links that don't resolve: {bad}"
    missing = [f"{src} -> {t}#{f}" for src, t, f in anchors if t in crawled and f not in crawled[t]]
    assert not missing, f"links to anchors that aren't there: {missing}"
    for page, _ in pages: assert server + f"{page}.html" in crawled, f"the crawl never reached {page}.html"


def _term(chapter:Path) -> str:
    "A long word the chapter's prose uses most, and the other notebooks least."
    def words(p):
        text = " ".join(src(c) for c in notebook(p)["cells"] if c["cell_type"] == "markdown")
        text = re.sub(r"\]\([^)]*\)|https?://\S+|`[^`]*`", " ", text)
        return collections.Counter(w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 8)
    mine, rest = words(chapter), collections.Counter()
    for p in nbs.glob("*.ipynb"):
        if p != chapter: rest += words(p)
    return max(mine, key=lambda w: (mine[w] - 3 * rest[w], w))

@pytest.mark.parametrize("chapter", chapters, ids=ids)
def test_search_finds_a_chapter_term(tab, server, chapter):
    "Type a word from the chapter into the search page: the chapter is among the results."
    term = _term(chapter)
    tab.goto(server + "search.html")
    box = tab.page.locator(".bd-search-container input[name=q]")
    box.fill(term)
    box.press("Enter")
    tab.page.wait_for_selector("#search-results .search-summary", timeout=20_000)
    tab.page.wait_for_function("() => !document.querySelector('#search-results .search-summary')"
                               ".textContent.includes('Searching')", timeout=20_000)
    found = tab.page.locator("#search-results ul.search li a").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))")
    assert any(h.split("?")[0].split("#")[0] == f"{chapter.stem}.html" for h in found), \
        f"searching {term!r} found {found}, not {chapter.stem}.html"
    assert not tab.errors, tab.errors


def _png_size(path:Path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])

def test_screenshot_of_a_chapter(browser, server):
    "Saved for people to look at (test-artifacts/): the top of chapter 1, and its first plot."
    tab = Tab(browser, server, viewport=(1280, 1000))
    try:
        tab.goto(server + f"{chapters[0].stem}.html")
        tab.page.wait_for_load_state("networkidle")
        artifacts.mkdir(exist_ok=True)
        top, plot = artifacts / f"site-{chapters[0].stem}.png", artifacts / f"site-{chapters[0].stem}-plot.png"
        tab.page.screenshot(path=str(top))
        cell = tab.page.locator(".cell:has(.cell_output img)").first
        cell.scroll_into_view_if_needed()
        cell.screenshot(path=str(plot))
    finally:
        tab.close()
    assert _png_size(top) == (1280, 1000)
    w, h = _png_size(plot)
    assert w > 300 and h > 100 and plot.stat().st_size > 10_000, "the plot screenshot looks empty"
