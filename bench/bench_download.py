"Time `course_lib.photos.download_images` against fastai's on a loopback server that answers like a slow, messy web."
import contextlib, http.server, io, subprocess, sys, tempfile, threading, time, warnings
from pathlib import Path

import numpy as np
from PIL import Image

N, DELAY, RUNS = 200, 0.05, 3  # URLs, seconds each response waits (latency), timed runs per downloader

def photo(rng) -> bytes:
    "A 400x300 JPEG at quality 85 that compresses like a photo (shapes plus sensor noise; 4:4:4 or 4:2:0): ~40-160 KB."
    g = rng.integers(4, 150)
    low = Image.fromarray(rng.uniform(0, 255, (g, g * 4 // 3, 3)).astype("uint8"))
    im = np.asarray(low.resize((400, 300), Image.BICUBIC), float) + rng.normal(0, rng.uniform(10, 30), (300, 400, 3))
    buf = io.BytesIO()
    Image.fromarray(im.clip(0, 255).astype("uint8")).save(buf, "JPEG", quality=85, subsampling=int(rng.choice([0, 2])))
    return buf.getvalue()

def make_site(rng):
    "path -> (status, body): mostly photos, ~10% broken the ways search results are (404, HTML, cut short)."
    photos = [photo(rng) for _ in range(20)]
    html = b"<!DOCTYPE html><html><body>Please enable cookies.</body></html>"
    site = {}
    for i in range(N):
        kind = ("404", "html", "cut")[i % 3] if i % 10 == 9 else "ok"
        p = photos[i % len(photos)]
        site[f"/{kind}/{i}.jpg"] = {"ok": (200, p), "404": (404, b"not found"), "html": (200, html),
                                   "cut": (200, p[: len(p) // 2])}[kind]
    return site, photos

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Real servers set TCP_NODELAY; without it, headers and body sent apart stall ~8 ms per reused connection
    # (Nagle meets delayed ACK), which would penalise exactly the keep-alive clients.
    disable_nagle_algorithm = True
    def log_message(self, *args): pass
    def do_GET(self):
        status, body = self.server.site.get(self.path.split("?")[0], (404, b"not found"))
        time.sleep(DELAY)
        self.send_response(status)
        self.send_header("Content-Type", "image/jpeg")  # as lying servers do, also for the HTML
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

class Server(http.server.ThreadingHTTPServer):
    daemon_threads, request_queue_size = True, 256
    def handle_error(self, request, client_address): pass

def bad_files(dest):
    "Files in `dest` that don't fully decode: what a training run would trip over."
    n = 0
    for p in Path(dest).iterdir():
        try:
            with Image.open(p) as im: im.load()
        except Exception: n += 1
    return n

def timed(fn, urls):
    "Best wall time of `RUNS` runs of `fn(dest, urls)`, each into a fresh folder; and what the last run kept."
    best = float("inf")
    for _ in range(RUNS):
        dest = Path(tempfile.mkdtemp(prefix="bench_"))
        with contextlib.redirect_stdout(io.StringIO()):  # progress bars
            start = time.perf_counter()
            fn(dest, urls)
            best = min(best, time.perf_counter() - start)
    files = [p for p in dest.iterdir() if p.is_file()]
    return best, len(files), bad_files(dest)

def import_secs(module, n=5):
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return min(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
               for _ in range(n))

def main():
    from course_lib.photos import download_images as ours
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastai.vision.utils import download_images as fastais  # imports torch: seconds, so before any timing

    site, photos = make_site(np.random.default_rng(0))
    sizes = [len(p) for p in photos]
    srv = Server(("127.0.0.1", 0), Handler)
    srv.site = site
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    urls = [f"http://127.0.0.1:{srv.server_port}{p}" for p in site]
    n_ok = sum(p.startswith("/ok/") for p in site)
    print(f"{len(urls)} URLs ({n_ok} photos of {min(sizes)//1000}-{max(sizes)//1000} KB, {len(urls) - n_ok} bad), "
          f"{DELAY*1000:.0f} ms latency each; best of {RUNS}\n")

    rows = [("fastai download_images (defaults)", lambda d, u: fastais(d, urls=u)),
            ("course_lib download_images (defaults)", lambda d, u: ours(d, u, progress=False)),
            ("course_lib download_images (n_workers=8)", lambda d, u: ours(d, u, n_workers=8, progress=False))]
    print(f"{'':42}{'seconds':>8}{'images/s':>10}{'kept':>6}{'bad kept':>10}")
    secs = {}
    for name, fn in rows:
        t, kept, bad = timed(fn, urls)
        secs[name] = t
        print(f"{name:42}{t:8.2f}{(kept - bad) / t:10.0f}{kept:6d}{bad:10d}")  # images/s: ones that decode
    srv.shutdown()
    fast, mine = secs[rows[0][0]], secs[rows[1][0]]
    print(f"\nspeed-up, fastai time / course_lib time: {fast / mine:.2f}x (target >= 1.5x)")
    for m in ("course_lib", "course_lib.photos", "course_lib.bird"):
        print(f"import {m} in a fresh process (best of 5): {import_secs(m):.3f} s (target <= 0.5 s)")

if __name__ == "__main__": main()
