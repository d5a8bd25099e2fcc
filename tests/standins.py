"""Loopback stand-ins for the web the chapters use online: no byte leaves 127.0.0.1.

- `SearchStandin`: DuckDuckGo and Bing image search behind an HTTPS-intercepting proxy. The real `ddgs` library reaches
  it through its documented proxy setting (env `DDGS_PROXY`) and trusts its throwaway CA through `primp`'s
  `PRIMP_CA_BUNDLE`; it answers ddgs's image engines (duckduckgo.com's vqd page and /i.js, www.bing.com's
  /images/async) with responses shaped like the real ones. Any other CONNECT or proxied request is refused and
  recorded, so it doubles as a tripwire for stray traffic when it is also set as HTTP(S)_PROXY.
- `PhotoSite`: JPEGs (chapter 1's drawn stand-ins) and a few broken downloads, over plain HTTP.
- `StaticSite`: a folder served as it is (fastai's MNIST_SAMPLE archive).
"""
from __future__ import annotations
import hashlib, html, http.server, json, os, ssl, threading
from functools import partial
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads, request_queue_size = True, 64
    def handle_error(self, request, client_address):  # clients drop keep-alive connections whenever they like
        import sys
        self.errors.append(repr(sys.exc_info()[1]))


def _serve(handler, **attrs) -> _Server:
    srv = _Server(("127.0.0.1", 0), handler)
    srv.errors, srv.url = [], f"http://127.0.0.1:{srv.server_port}"
    for k, v in attrs.items(): setattr(srv, k, v)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def _stop(srv):
    srv.shutdown(); srv.server_close()


class _Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version, disable_nagle_algorithm, timeout = "HTTP/1.1", True, 30
    def log_message(self, *args): pass

    def reply(self, status:int, body:bytes=b"", ctype:str="text/html; charset=utf-8", **headers):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items(): self.send_header(k.replace("_", "-"), v)
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
        self.wfile.flush()


# ---- image search

def _vqd(query:str) -> str:
    "A token shaped like DuckDuckGo's: '4-' and 38 digits, fixed per query (DDG ties it to the query too)."
    return "4-" + str(int(hashlib.sha256(query.encode()).hexdigest(), 16))[:38]


def _ddg_page(query:str) -> bytes:
    "The search page ddgs fetches only to read the vqd token from, trimmed to what the real one looks like there."
    q, v = html.escape(query), _vqd(query)
    return (f'<!DOCTYPE html><html lang="en-US"><head><meta charset="utf-8"><title>{q} at DuckDuckGo</title>'
            f'<link rel="preconnect" href="https://links.duckduckgo.com"></head><body class="body--serp">'
            f'<script type="text/javascript">DDG.page = new DDG.Pages.SERP({{showSafeSearchWarning:false}});'
            f'nrj(\'/d.js?q={q}&l=us-en&s=0&ct=AT&vqd={v}&p_ent=&ex=-1&sp=1\');vqd="{v}";</script>'
            f'<div id="links"></div></body></html>').encode()


def _ddg_json(query:str, results:list[dict], region:str) -> bytes:
    "DuckDuckGo's /i.js answer: Bing's image results, relayed."
    q = query.replace(" ", "%20")
    return json.dumps({
        "ads": None, "query": query, "queryEncoded": q, "response_type": "places", "vqd": {query: _vqd(query)},
        "next": f"i.js?q={q}&o=json&p=1&s=100&u=bing&f=,,,,,&l={region}&vqd={_vqd(query)}",
        "results": [{"height": r["height"], "image": r["image"], "image_token": hashlib.sha1(r["image"].encode()).hexdigest(),
                     "source": "Bing", "thumbnail": r["thumbnail"], "thumbnail_token": hashlib.md5(r["image"].encode()).hexdigest(),
                     "title": r["title"], "url": r["url"], "width": r["width"]} for r in results]}).encode()


def _bing_html(query:str, results:list[dict]) -> bytes:
    "Bing's /images/async answer: one tile per image, its details as JSON in the `m` attribute of `a.iusc`."
    tiles = []
    for i, r in enumerate(results, 1):
        m = {"sid": "", "cturl": "", "cid": f"standin{i}", "purl": r["url"], "murl": r["image"], "turl": r["thumbnail"],
             "md5": hashlib.md5(r["image"].encode()).hexdigest(), "shkey": "", "t": r["title"], "mid": f"MID{i:04d}", "desc": ""}
        host = urlsplit(r["url"]).netloc
        tiles.append(
            f'<li data-idx="{i}"><div class="iuscp isv"><div class="imgpt">'
            f'<a class="iusc" style="height:180px;width:240px" m="{html.escape(json.dumps(m), quote=True)}" '
            f'href="/images/search?view=detailV2&amp;q={html.escape(query)}&amp;idpp=serp">'
            f'<div class="img_cont hoff"><img class="mimg" height="180" width="240" src="{html.escape(r["thumbnail"])}" '
            f'alt="{html.escape(r["title"])}"/></div></a>'
            f'<div class="img_info hon"><span class="nowrap">{r["width"]} × {r["height"]} · jpeg</span>'
            f'<div class="lnkw"><a target="_blank" aria-label="{host}" href="{html.escape(r["url"])}">{host}</a></div></div></div>'
            f'<div class="infopt"><a class="inflnk" aria-label="{html.escape(r["title"])}" href="{html.escape(r["url"])}">'
            f'{html.escape(r["title"])}</a></div></div></li>')
    return (f'<!DOCTYPE html><html><head><title>{html.escape(query)} - Search Images</title></head><body>'
            f'<ul class="dgControl_list">{"".join(tiles)}</ul></body></html>').encode()


class _ProxyHandler(_Quiet):
    "A CONNECT proxy that opens no connection: it ends the TLS itself and answers as the search engine would."
    tunnel = None  # the host a CONNECT opened this connection to

    def do_CONNECT(self):
        host, _, port = self.path.rpartition(":")
        srv = self.server
        if host not in srv.hosts or port != "443":
            srv.refused.append(f"CONNECT {self.path}")  # a stray connection: refused, and the test can see it
            self.reply(403, b"loopback stand-in: refused")
            self.close_connection = True
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        tls = srv.tls_context(host).wrap_socket(self.connection, server_side=True)  # fails if ddgs distrusts our CA
        self.connection, self.tunnel, self.close_connection = tls, host, False
        self.rfile, self.wfile = tls.makefile("rb"), tls.makefile("wb")

    def finish(self):
        super().finish()
        if self.tunnel: self.connection.close()  # the TLS socket; the plain one it wrapped is detached

    def do_GET(self):
        srv, url = self.server, urlsplit(self.path)
        if self.tunnel is None:  # a plain proxied request (http://elsewhere/...): the tripwire
            srv.refused.append(f"GET {self.path}")
            return self.reply(403, b"loopback stand-in: refused")
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        query = q.get("q", "")
        status, body, ctype = self.answer(url.path, q)
        srv.requests.append((self.tunnel, url.path, q, status))
        self.reply(status, body, ctype)

    def answer(self, path, q):
        srv, query, html_type = self.server, q.get("q", ""), "text/html; charset=utf-8"
        if refuse := srv.refuse.get((self.tunnel, path)):
            return refuse, b"<html><body>Too many requests. Try again later.</body></html>", html_type
        found = srv.catalogue.get(query, [])
        if (self.tunnel, path) == ("duckduckgo.com", "/"): return 200, _ddg_page(query), html_type
        if (self.tunnel, path) == ("duckduckgo.com", "/i.js"):
            if q.get("vqd") != _vqd(query): return 403, b"", "text/plain"  # as the real one does a missing or stale token
            return 200, _ddg_json(query, found, q.get("l", "us-en")), "application/x-javascript"
        if (self.tunnel, path) == ("www.bing.com", "/images/async"):
            start, count = int(q.get("first", "1")) - 1, int(q.get("count", "35"))
            return 200, _bing_html(query, found[start:start + count]), html_type
        return 404, b"<html><body>Not found</body></html>", html_type


class SearchStandin:
    "DuckDuckGo and Bing image search on 127.0.0.1, as `ddgs` sees them through `proxy` with `ca_file` trusted."
    hosts = ("duckduckgo.com", "www.bing.com")

    def __init__(self, folder:Path):
        import trustme  # dev dependency: a throwaway CA and certificates signed by it (built on `cryptography`)
        self.ca = trustme.CA(organization_name="course_lib tests: loopback stand-in CA")
        self.ca_file = Path(folder) / "standin-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self._contexts, lock = {}, threading.Lock()

        def tls_context(host):
            with lock:
                if host not in self._contexts:
                    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                    self.ca.issue_cert(host).configure_cert(ctx)
                    ctx.set_alpn_protocols(["http/1.1"])  # browsers' TLS offers h2 too; this server speaks HTTP/1.1
                    self._contexts[host] = ctx
                return self._contexts[host]

        self.server = _serve(_ProxyHandler, hosts=self.hosts, tls_context=tls_context, requests=[], refused=[],
                             catalogue={}, refuse={})
        self.proxy = self.server.url

    # what it answers
    @property
    def catalogue(self) -> dict: return self.server.catalogue  # query -> list of result dicts (see `result`)
    @property
    def refuse(self) -> dict: return self.server.refuse  # (host, path) -> HTTP status to answer instead
    # what it saw
    @property
    def requests(self) -> list: return self.server.requests  # (host, path, query parameters, status), in order
    @property
    def refused(self) -> list: return self.server.refused  # stray requests: anything but the two search engines
    @property
    def errors(self) -> list: return self.server.errors  # failed TLS handshakes and dropped connections

    results_paths = {("duckduckgo.com", "/i.js"), ("www.bing.com", "/images/async")}  # the requests that get results

    def queries(self) -> list[str]:
        "The search terms answered with results (not refused), in order: one per search."
        return [q.get("q") for h, p, q, status in self.requests if (h, p) in self.results_paths and status == 200]

    def env(self) -> dict:
        "Environment variables that send `ddgs` here and make it trust this stand-in's certificates."
        return {"DDGS_PROXY": self.proxy, "PRIMP_CA_BUNDLE": str(self.ca_file)}

    def tripwire_env(self) -> dict:
        "Proxy variables that send any other HTTP(S) request (urllib, requests, torch.hub) here, to be refused and seen."
        env = {k: self.proxy for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")}
        env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")  # the loopback servers: direct
        return env

    def close(self): _stop(self.server)


def result(image:str, title:str, page:str, thumbnail:str, width:int=640, height:int=480) -> dict:
    "One image search result: the image's URL, its title, the page it is on, Bing's thumbnail of it."
    return dict(image=image, title=title, url=page, thumbnail=thumbnail, width=width, height=height)


# ---- photos

class _PhotoHandler(_Quiet):
    def do_GET(self):
        self.server.hits.append(self.path)
        route = self.server.routes.get(urlsplit(self.path).path)
        if route is None: return self.reply(404, b"<html><body>404 Not Found</body></html>")
        status, body, ctype = route
        self.reply(status, body, ctype)


class PhotoSite:
    "Pictures on 127.0.0.1 at /photos/<label>/<file>, and downloads that fail as the web's do at /broken/<kind>/<n>.jpg."
    broken_kinds = ("gone", "cut-short", "html")

    def __init__(self, pictures:dict[str, list[Path]], cut_short:bytes):
        routes = {f"/photos/{label}/{p.name}": (200, p.read_bytes(), "image/jpeg") for label, ps in pictures.items() for p in ps}
        self.photos = {label: [f"/photos/{label}/{p.name}" for p in ps] for label, ps in pictures.items()}
        self._broken = {"gone": (404, b"<html><body>404 Not Found</body></html>", "text/html"),
                        "cut-short": (200, cut_short, "image/jpeg"),  # a JPEG that ends a third of the way through
                        "html": (200, b"<!DOCTYPE html><html><body>Please enable cookies.</body></html>", "image/jpeg")}
        self.server = _serve(_PhotoHandler, hits=[], routes=routes)
        self.url = self.server.url

    def broken(self, kind:str, n:int) -> str:
        "URL of broken download number `n` of `kind` (each its own URL, as on the web)."
        path = f"/broken/{kind}/{n}.jpg"
        self.server.routes[path] = self._broken[kind]
        return self.url + path

    @property
    def hits(self) -> list: return self.server.hits
    def close(self): _stop(self.server)


class _StaticHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass
    def do_GET(self):
        self.server.hits.append(self.path)
        super().do_GET()


class StaticSite:
    "The files in `folder`, served on 127.0.0.1 as they are; `hits` lists the paths asked for."
    def __init__(self, folder:Path):
        self.server = _serve(partial(_StaticHandler, directory=str(folder)), hits=[])
        self.url = self.server.url
    @property
    def hits(self) -> list: return self.server.hits
    def close(self): _stop(self.server)


# ---- a file-open watcher

_opened: dict[str, list] = {}

def _audit(event, args):
    if event == "open" and _opened and isinstance(args[0], (str, bytes, os.PathLike)):
        p = os.fsdecode(args[0])
        if p in _opened: _opened[p].append(args[1])

def watch_opens(path:Path) -> list:
    """A list that gets one entry each time Python opens `path` from now on (via the interpreter's `open` audit event:
    it sees every `open()`, whoever calls it, without replacing anything)."""
    if not getattr(watch_opens, "installed", False):
        import sys
        sys.addaudithook(_audit)  # audit hooks can't be removed: one for the whole session, idle unless watching
        watch_opens.installed = True
    return _opened.setdefault(os.fspath(path), [])

def unwatch_opens(path:Path): _opened.pop(os.fspath(path), None)
