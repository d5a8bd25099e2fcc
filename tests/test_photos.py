"Tests of `course_lib.photos`: downloads against a real loopback HTTP server, search without the network, stand-ins."
import hashlib, http.server, io, json, re, socket, struct, threading, time, zlib
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from PIL import Image

import course_lib.photos as photos
from course_lib.photos import DownloadSummary, SearchError, download_images, gather_images, make_standins, search_images
from course_lib.toolbox import is_offline

TIMEOUT = 1.  # per-download limit in these tests; the slow routes take twice as long
TIMEOUT_WORDS = ("no answer", "took longer", "timed out", "timeout")
NAME = re.compile(r"[0-9a-f]{16}\.(jpg|png|webp|gif|bmp)")

# ---- images and a server that misbehaves in all the ways the web does

def _img(fmt, size=(64, 48), color=(200, 80, 40), **kw) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt, **kw)
    return buf.getvalue()

def _png_1bit(w, h) -> bytes:
    "A valid all-black 1-bit PNG built row by row: a 20000x20000 'bomb' is ~50 KB and never exists in memory."
    def chunk(kind, data): return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    z, row = zlib.compressobj(9), bytes(1 + (w + 7) // 8)
    idat = b"".join(z.compress(row) for _ in range(h)) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))

def _mpo() -> bytes:
    "A JPEG carrying a second picture (MPF), as many phones and cameras write: PIL calls its format MPO."
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(buf, "MPO", save_all=True, append_images=[Image.new("RGB", (32, 24), "blue")])
    return buf.getvalue()

JPG, PNG, WEBP = _img("JPEG"), _img("PNG"), _img("WEBP")

def _cut_in_pixels() -> bytes:
    "A JPEG cut two thirds of the way through its pixel data: its header is whole, so it opens and only decoding finds the cut."
    import numpy as np
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue()[: len(buf.getvalue()) * 2 // 3]

CUT = _cut_in_pixels()

def _send(h, body, ctype="image/jpeg", chunked=False, every=0., piece=50, length=None):
    "Answer `body`; with `every`, `piece` bytes at a time, pausing `every` seconds between them; `length` lies."
    h.send_response(200)
    h.send_header("Content-Type", ctype)
    if chunked: h.send_header("Transfer-Encoding", "chunked")
    else: h.send_header("Content-Length", length or str(len(body)))
    if length: h.send_header("Connection", "close")
    h.end_headers()
    step = piece if every else len(body) or 1
    for i in range(0, len(body), step):
        part = body[i:i + step]
        h.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
        h.wfile.flush()
        time.sleep(every)
    if chunked: h.wfile.write(b"0\r\n\r\n")

def _redirect(h):
    h.send_response(302)
    h.send_header("Location", "/img/ok.jpg?from=redirect")
    h.send_header("Content-Length", "0")
    h.end_headers()

def _stall(h):
    "Headers and a first bite, then silence: only the read timeout or the deadline ends it."
    h.send_response(200)
    h.send_header("Content-Type", "image/jpeg")
    h.send_header("Content-Length", str(len(JPG)))
    h.end_headers()
    h.wfile.write(JPG[:100]); h.wfile.flush()
    time.sleep(2 * TIMEOUT)

def _routes():
    big = JPG + bytes(150_000)  # still a valid JPEG (PIL ignores what follows the end marker), just too large
    # built before serving: compressing the bomb's 50 MB of rows per request took over the 1 s deadline on a busy CI machine
    bomb, big_png, camera = _png_1bit(20_000, 20_000), _png_1bit(8_000, 8_000), _mpo()
    return {
        "/img/ok.png": lambda h: _send(h, PNG, "image/png"),
        "/img/ok.webp": lambda h: _send(h, WEBP, "image/webp"),
        "/img/redirect": _redirect,
        "/img/camera.jpg": lambda h: _send(h, camera),
        "/bad/404.jpg": lambda h: h.send_error(404),
        "/bad/500.jpg": lambda h: h.send_error(500),
        "/bad/html.jpg": lambda h: _send(h, b"<!DOCTYPE html><html><body>Access denied</body></html>"),
        "/bad/truncated.jpg": lambda h: _send(h, JPG[: len(JPG) // 2]),  # cut inside its header: fails to open
        "/bad/cut-in-pixels.jpg": lambda h: _send(h, CUT),  # opens, fails to decode
        "/bad/bomb.png": lambda h: _send(h, bomb, "image/png"),
        "/bad/big.png": lambda h: _send(h, big_png, "image/png"),  # 64M pixels: over the 40M default
        "/bad/huge.jpg": lambda h: _send(h, big),
        "/bad/huge-chunked.jpg": lambda h: _send(h, big, chunked=True),
        "/bad/slow.jpg": lambda h: (time.sleep(2 * TIMEOUT), _send(h, JPG)),
        "/bad/stall.jpg": _stall,
        "/bad/trickle.jpg": lambda h: _send(h, JPG, every=0.1, piece=20),  # each read is quick, the whole is not
        "/bad/trickle-chunked.jpg": lambda h: _send(h, JPG, chunked=True, every=0.1, piece=20),
        "/bad/bad-length.jpg": lambda h: _send(h, JPG, length="abc"),
    }

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version, disable_nagle_algorithm = "HTTP/1.1", True  # as real servers: no Nagle stalls on keep-alive
    def log_message(self, *args): pass
    def do_GET(self):
        self.server.hits.append(self.path)
        route = self.server.routes.get(urlsplit(self.path).path, lambda h: _send(h, JPG))  # any other path: a JPEG
        try: route(self)
        except (BrokenPipeError, ConnectionResetError): pass  # the client gave up, as it should on the slow routes

class _Server(http.server.ThreadingHTTPServer):
    daemon_threads, request_queue_size = True, 64
    def handle_error(self, request, client_address): pass

@pytest.fixture(scope="module")
def server():
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.hits, srv.routes, srv.url = [], _routes(), f"http://127.0.0.1:{srv.server_port}"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown(); srv.server_close()

def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def _stem(url): return hashlib.sha1(url.encode()).hexdigest()[:16]

def _files(folder): return sorted(p for p in Path(folder).rglob("*") if p.is_file())

# ---- one download of everything, looked at from several sides

GOOD = ["/img/ok.jpg", "/img/ok.png", "/img/ok.webp", "/img/redirect",
        "/../../etc/passwd.jpg?x=<>|:*", "/" + "a" * 300 + ".jpg?" + "b" * 300, "/vögel/🐦 bird.jpg?q=ü",
        "/%2e%2e/%2e%2e/x.jpg"]
BAD = {"/bad/404.jpg": ["404"], "/bad/500.jpg": ["500"], "/bad/html.jpg": ["html"], "/bad/truncated.jpg": ["broken"], "/bad/cut-in-pixels.jpg": ["broken"],
       "/bad/bomb.png": ["bomb", "pixel"], "/bad/big.png": ["pixel"], "/bad/huge.jpg": ["byte"],
       "/bad/huge-chunked.jpg": ["byte"], "/bad/slow.jpg": TIMEOUT_WORDS, "/bad/stall.jpg": TIMEOUT_WORDS}
NOT_HTTP = ["javascript:alert(1)", "ftp://127.0.0.1/x.jpg", "data:image/jpeg;base64,/9j/4AAQ"]  # + a file:// URL

@pytest.fixture(scope="module")
def run(server, tmp_path_factory):
    root = tmp_path_factory.mktemp("download")
    secret = root / "private" / "secret.jpg"  # a valid image: if a file:// URL were read, it would be kept
    secret.parent.mkdir(); secret.write_bytes(JPG)
    good, bad = [server.url + p for p in GOOD], {server.url + p: w for p, w in BAD.items()}
    not_http = NOT_HTTP + [secret.as_uri()]
    urls = good + list(bad) + not_http + [good[0], f"  {good[0]}\n", "", "   ", None]
    dest = root / "a" / "dest"
    start = time.monotonic()
    res = download_images(dest, urls, timeout=TIMEOUT, max_bytes=100_000, progress=False)
    return SimpleNamespace(res=res, root=root, dest=dest, secret=secret, good=good, bad=bad, not_http=not_http,
                           urls=urls, secs=time.monotonic() - start)

def test_keeps_exactly_the_valid_images(run):
    files = _files(run.dest)
    assert sorted(run.res.saved) == files and run.res.images == run.res.saved and not run.res.existing
    assert {p.stem for p in files} == {_stem(u) for u in run.good}
    for p in files:
        assert NAME.fullmatch(p.name), p.name
        with Image.open(p) as im: im.load()
    exts = {p.stem: p.suffix for p in files}
    assert [exts[_stem(run.good[i])] for i in range(3)] == [".jpg", ".png", ".webp"]  # named by content

def test_nothing_written_outside_dest(run):
    assert set(_files(run.root)) == set(_files(run.dest)) | {run.secret}
    assert {p.name for p in run.root.iterdir()} == {"a", "private"}

def test_no_partial_files(run):
    assert all(p.stat().st_size > 0 and not p.name.startswith(".") and ".part" not in p.name for p in _files(run.dest))

def test_every_failure_reported(run):
    assert set(run.res.failed) == set(run.bad) | set(run.not_http)

@pytest.mark.parametrize("path", BAD)
def test_failure_reason(run, server, path):
    why = run.res.failed[server.url + path].lower()
    assert any(w in why for w in BAD[path]), why

def test_a_jpeg_cut_in_its_pixels_is_refused_though_it_opens(run, server):
    "Only decoding every pixel finds this cut: PIL opens the file and reads its size from the header without complaint."
    with Image.open(io.BytesIO(CUT)) as im: assert im.size == (128, 96)
    why = run.res.failed.get(server.url + "/bad/cut-in-pixels.jpg")
    assert why and "broken" in why, f"a JPEG whose pixels are cut short was kept: the download must decode every pixel ({why})"

def test_non_http_urls_refused_unread(run):
    for u in run.not_http: assert "http" in run.res.failed[u]
    assert _stem(run.secret.as_uri()) not in {p.stem for p in _files(run.dest)}

def test_duplicates_counted_and_fetched_once(run, server):
    assert run.res.duplicates == 2
    assert server.hits.count("/img/ok.jpg") == 1

def test_slow_servers_cost_one_timeout(run):
    assert run.secs < 2 * TIMEOUT + 1  # all in parallel, each cut off after TIMEOUT

def test_summary_repr(run):
    first, *rest = repr(run.res).splitlines()
    assert first.startswith(f"{len(run.good)} downloaded, 0 already on disk, {len(run.res.failed)} failed, 2 duplicate")
    assert len(run.res.failed) > 10 and len(rest) == 11  # ten reasons, then a pointer to the rest
    assert all(l.startswith("  ✗ ") for l in rest[:-1]) and f"{len(run.res.failed) - 10} more" in rest[-1]

def test_rerun_reuses_downloads(run, server):
    "A re-run (say after a kernel restart) finds the images on disk and fetches none of them again."
    n_hits = len(server.hits)
    again = download_images(run.dest, run.urls, timeout=TIMEOUT, max_bytes=100_000, progress=False)
    assert not again.saved and sorted(again.existing) == sorted(run.res.saved)
    assert set(again.failed) == set(run.res.failed)
    assert server.hits[n_hits:] and all(p.startswith("/bad/") for p in server.hits[n_hits:])
    assert _files(run.dest) == sorted(run.res.saved)

# ---- single cases, each in its own call so one bug can't hide another

def _one(server, tmp_path, path, **kw):
    url = server.url + path
    start = time.monotonic()
    res = download_images(tmp_path / "dest", [url], timeout=TIMEOUT, progress=False, **kw)
    return res, url, time.monotonic() - start

@pytest.mark.parametrize("path", ["/bad/trickle.jpg", "/bad/trickle-chunked.jpg"])
def test_deadline_covers_whole_download(server, tmp_path, path):
    "A server dribbling bytes (each read quick, 3.5 s in all) is cut off at `timeout`, start to finish."
    res, url, secs = _one(server, tmp_path, path)
    assert any(w in res.failed[url] for w in TIMEOUT_WORDS), res.failed
    assert secs < TIMEOUT + 1, f"took {secs:.1f}s with timeout={TIMEOUT}"
    assert not _files(tmp_path / "dest")

def test_malformed_content_length_does_not_crash(server, tmp_path):
    res, url, _ = _one(server, tmp_path, "/bad/bad-length.jpg")
    assert len(res.saved) + len(res.failed) == 1

def test_camera_jpeg_kept(server, tmp_path):
    "JPEGs with a second embedded picture (MPF) are ordinary photos from phones and cameras."
    res, url, _ = _one(server, tmp_path, "/img/camera.jpg")
    assert not res.failed and [p.suffix for p in res.saved] == [".jpg"]

def test_no_urls(tmp_path):
    res = download_images(tmp_path / "empty", [], progress=False)
    assert (tmp_path / "empty").is_dir() and res == DownloadSummary()

def test_progress_false_is_silent(server, tmp_path, capsys):
    _one(server, tmp_path, "/img/ok.png")
    assert capsys.readouterr().out == ""

# ---- gather_images: searches each term once, then works from searches.json

def _counting_search(monkeypatch, server, fail_on=()):
    calls = []
    def fake_search(term, max_images=30, **kwargs):
        calls.append((term, max_images))
        if term in fail_on: raise SearchError(f"search for {term!r} failed")
        return [f"{server.url}/img/{term.replace(' ', '_')}_{i}.jpg" for i in range(2)]
    monkeypatch.setattr(photos, "search_images", fake_search)
    return calls

def test_gather_reuses_search_cache(server, tmp_path, monkeypatch):
    dest = tmp_path / "bird"
    dest.mkdir()
    (dest / "searches.json").write_text(json.dumps({"bird photo": [f"{server.url}/img/ok.jpg?g=1", f"{server.url}/img/ok.png"]}))
    def no_search(*args, **kwargs): raise AssertionError("searched although searches.json has the results")
    monkeypatch.setattr(photos, "search_images", no_search)
    first = gather_images(dest, ["bird photo"], progress=False)
    again = gather_images(dest, ["bird photo"], progress=False)
    assert len(first.saved) == 2 and not first.failed
    assert not again.saved and sorted(again.existing) == sorted(first.saved)

@pytest.mark.parametrize("text", ['{"bird photo": ["http://a/1.jpg"', "\x00\xff", '["not", "a", "cache"]'], ids=["cut-short", "binary", "wrong-shape"])
def test_gather_unreadable_cache_is_named_and_searched_again(server, tmp_path, monkeypatch, capsys, text):
    calls = _counting_search(monkeypatch, server)
    dest = tmp_path / "bird"
    dest.mkdir()
    (dest / "searches.json").write_bytes(text.encode("latin-1"))
    res = gather_images(dest, ["bird photo"], progress=False)
    out = capsys.readouterr().out
    assert f"{dest / 'searches.json'} is not a readable search cache" in out and len(out.strip().splitlines()) == 1, out
    assert calls == [("bird photo", 30)] and len(res.saved) == 2
    assert list(json.loads((dest / "searches.json").read_text())) == ["bird photo"]
    assert not [p for p in dest.iterdir() if p.name.endswith(".part")]  # written through a temporary file, renamed

def test_gather_searches_each_term_once(server, tmp_path, monkeypatch):
    calls = _counting_search(monkeypatch, server)
    dest = tmp_path / "bird"
    first = gather_images(dest, ["bird photo", "bird flying"], max_images=5, progress=False)
    again = gather_images(dest, ["bird photo", "bird flying"], max_images=5, progress=False)
    assert calls == [("bird photo", 5), ("bird flying", 5)]
    assert sum(len(v) for v in json.loads((dest / "searches.json").read_text()).values()) == 4
    assert len(first.saved) == 4 and len(again.existing) == 4 and not again.saved

def test_gather_keeps_finished_searches_when_one_fails(server, tmp_path, monkeypatch):
    "A search that fails (rate limit, say) loses nothing: the re-run searches only what is missing."
    calls = _counting_search(monkeypatch, server, fail_on={"bird shade photo"})
    dest = tmp_path / "bird"
    with pytest.raises(SearchError): gather_images(dest, ["bird photo", "bird shade photo"], progress=False)
    calls.clear()
    _counting_search(monkeypatch, server)  # the rate limit has passed
    res = gather_images(dest, ["bird photo", "bird shade photo"], progress=False)
    assert len(res.saved) == 4

def test_gather_searches_only_new_terms(server, tmp_path, monkeypatch):
    calls = _counting_search(monkeypatch, server)
    gather_images(tmp_path / "bird", ["bird photo"], progress=False)
    gather_images(tmp_path / "bird", ["bird photo", "bird sun photo"], progress=False)
    assert [t for t, _ in calls] == ["bird photo", "bird sun photo"]

# ---- search_images and is_offline, no network needed

@pytest.mark.parametrize("term", ["", "   ", None])
def test_search_needs_words(term):
    with pytest.raises(ValueError, match="bird photo"): search_images(term)

def test_search_unreachable_says_what_to_do(monkeypatch):
    monkeypatch.setenv("DDGS_PROXY", f"http://127.0.0.1:{_closed_port()}")  # unreachable even where there is network
    with pytest.raises(SearchError) as e: search_images("bird photo", retries=0)
    msg = str(e.value)
    assert "\n" not in msg and "Traceback" not in msg and "internet" in msg and "COURSE_OFFLINE" in msg
    assert e.value.__suppress_context__  # raised `from None`: the notebook shows one message, not a chain

def _flaky_ddgs(monkeypatch, fails, exc, msg="202 Ratelimit"):
    from ddgs.ddgs import DDGS  # the class itself: since ddgs 9.16 `ddgs.DDGS` is a lazy proxy until first used
    calls, sleeps = [], []
    def images(self, query, **kwargs):
        calls.append(query)
        if len(calls) <= fails: raise exc(msg)
        return [{"image": "http://x/a.jpg"}, {"title": "no image key"}]
    monkeypatch.setattr(DDGS, "images", images)
    monkeypatch.setattr(photos, "time", SimpleNamespace(sleep=sleeps.append, monotonic=time.monotonic))
    return calls, sleeps

def test_search_retries_with_backoff(monkeypatch):
    from ddgs.exceptions import RatelimitException
    calls, sleeps = _flaky_ddgs(monkeypatch, 2, RatelimitException)
    assert search_images("bird photo", wait=0.01) == ["http://x/a.jpg"]
    assert len(calls) == 3 and sleeps == [0.01, 0.02]

@pytest.mark.parametrize("exc,words", [("RatelimitException", "rate-limited"), ("TimeoutException", "timing out")])
def test_search_gives_up_politely(monkeypatch, exc, words):
    import ddgs.exceptions
    calls, sleeps = _flaky_ddgs(monkeypatch, 99, getattr(ddgs.exceptions, exc))
    with pytest.raises(SearchError, match="wait") as e: search_images("bird photo", retries=2, wait=0.01)
    assert len(calls) == 3 and len(sleeps) == 2 and words in str(e.value) and "\n" not in str(e.value)

def test_search_retries_generic_refusals(monkeypatch):
    "ddgs reports most refusals, rate limits included, as a plain DDGSException: retried, then explained."
    from ddgs.exceptions import DDGSException
    calls, sleeps = _flaky_ddgs(monkeypatch, 99, DDGSException, "No results found.")
    with pytest.raises(SearchError) as e: search_images("bird photo", retries=2, wait=0.01)
    msg = str(e.value)
    assert len(calls) == 3 and "limiting" in msg and "other search words" in msg and "\n" not in msg

def test_is_offline_obeys_course_offline(monkeypatch):
    closed = _closed_port()
    for flag, want in [("1", True), ("true", True), ("0", False), ("no", False)]:
        monkeypatch.setenv("COURSE_OFFLINE", flag)
        assert is_offline("127.0.0.1", closed, timeout=0.5) is want  # "0" wins even over a closed port

def test_is_offline_probes(monkeypatch, server):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    assert is_offline("127.0.0.1", server.server_port, timeout=0.5) is False
    assert is_offline("127.0.0.1", _closed_port(), timeout=0.5) is True

# ---- offline stand-ins

def _standin_bytes(path): return {p.relative_to(path): p.read_bytes() for p in _files(path)}

def test_make_standins(tmp_path):
    paths = make_standins(tmp_path, n=3, size=32)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        f"{label}/standin_{i:03d}.jpg" for label in ("bird", "forest") for i in range(3)]
    for p in paths:
        with Image.open(p) as im: im.load(); assert im.size == (32, 32)
    with pytest.raises(OSError), Image.open(tmp_path / "bird" / "cut_short.jpg") as im: im.load()

def test_make_standins_deterministic(tmp_path):
    make_standins(tmp_path / "a", n=3, size=32); make_standins(tmp_path / "b", n=3, size=32)
    make_standins(tmp_path / "c", n=3, size=32, seed=1)
    a = _standin_bytes(tmp_path / "a")
    assert a == _standin_bytes(tmp_path / "b") and a != _standin_bytes(tmp_path / "c")

def test_make_standins_keeps_files_and_refills_identically(tmp_path):
    "Existing files are never overwritten; missing ones come back as they were (same seed, same pictures)."
    make_standins(tmp_path, n=3, size=32)
    before = _standin_bytes(tmp_path)
    (tmp_path / "bird" / "standin_000.jpg").write_bytes(b"mine")
    (tmp_path / "bird" / "standin_001.jpg").unlink(); (tmp_path / "forest" / "standin_002.jpg").unlink()
    make_standins(tmp_path, n=3, size=32, broken=False)
    after = _standin_bytes(tmp_path)
    assert after.pop(Path("bird/standin_000.jpg")) == b"mine"
    assert after == {k: v for k, v in before.items() if k != Path("bird/standin_000.jpg")}

def test_remove_broken(tmp_path):
    from course_lib.photos import remove_broken
    paths = make_standins(tmp_path, n=3, size=32)
    assert [Path(p) for p in remove_broken(tmp_path)] == [tmp_path / "bird" / "cut_short.jpg"]
    assert _files(tmp_path) == sorted(paths)

# ---- real photos from Debian's Tux Paint stamps

def test_tuxpaint_photos_are_real_photos_on_backgrounds_that_tell_nothing(tmp_path):
    "34 bird photos and `n_other` others, drawings left out, each pasted on a plain background drawn the same way for both labels."
    import numpy as np
    got = photos.tuxpaint_photos(tmp_path / "real", n_other=20, size=64)
    assert got is not None, "Tux Paint's photos are missing: tools/course setup fetches them (Debian's apt-get)"
    assert len(got["bird"]) == 34 and len(got["other"]) == 20
    assert not any("cartoon" in str(p) for ps in got.values() for p in ps)
    corners = {k: np.array([np.asarray(Image.open(p))[0, 0] for p in ps], dtype=float) for k, ps in got.items()}
    assert all(Image.open(p).size == (64, 64) for ps in got.values() for p in ps)
    assert abs(corners["bird"].mean() - corners["other"].mean()) < 25, "the backgrounds differ by label: the model could read the label off them"
    again = photos.tuxpaint_photos(tmp_path / "real", n_other=20, size=64)
    assert again == got, "same seed, same photos"

def test_tuxpaint_photos_say_none_where_the_photos_are_missing(tmp_path):
    assert photos.tuxpaint_photos(tmp_path / "out", stamps=tmp_path / "nothing") is None

def test_fetch_tuxpaint_without_apt_get_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get anywhere
    with pytest.raises(RuntimeError) as e: photos.fetch_tuxpaint(tmp_path / "cache")
    assert "apt-get" in str(e.value) and "\n" not in str(e.value) and not (tmp_path / "cache" / "tuxpaint-stamps").exists()

def test_fetch_tuxpaint_keeps_what_it_fetched(tmp_path):
    "A second call finds the folder and fetches nothing (no apt-get needed)."
    (tmp_path / "tuxpaint-stamps" / "animals" / "birds").mkdir(parents=True)
    assert photos.fetch_tuxpaint(tmp_path) == tmp_path / "tuxpaint-stamps"

def test_course_lib_photos_command_fetches_or_says_why_not(tmp_path, monkeypatch, capsys):
    "`course-lib photos`, for set-ups other than tools/course (uv sync, conda): where the photos are, or one line on why not."
    from course_lib.grading import main
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get anywhere
    assert main(["photos"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("course-lib photos: no apt-get") and "\n" not in err, err
    (tmp_path / "cache" / "tuxpaint-stamps" / "animals" / "birds").mkdir(parents=True)  # as a first run leaves them
    assert main(["photos"]) == 0
    assert str(tmp_path / "cache" / "tuxpaint-stamps") in capsys.readouterr().out
