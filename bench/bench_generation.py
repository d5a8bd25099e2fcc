"""Chapter 9's pieces written by hand against PyTorch's: an LSTM as a Python loop of `lstm_cell` against `nn.LSTM`, and
`attention` against `F.scaled_dot_product_attention` — time per forward and backward pass, and whether they agree —
then how fast the chapter's `generate` writes with its LSTM and its transformer. Two CPU threads, as the chapter's
offline run; median of 5 runs, taken in turns.

    .venv/bin/python bench/bench_generation.py
"""
import math, statistics, time
import torch
from torch import nn
import torch.nn.functional as F
from course_lib.generation import CharLSTM, TinyGPT, attention, generate, lstm_cell

torch.set_num_threads(2)

def timed(f, n=5):
    "Median seconds of `n` calls of `f`, after one to warm up."
    f(); ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)

def lstm_by_hand(lstm, x):
    "A 1-layer `nn.LSTM`'s output, computed step by step with `lstm_cell`."
    h = c = torch.zeros(x.shape[0], lstm.hidden_size)
    outs = []
    for t in range(x.shape[1]):
        h, c = lstm_cell(x[:, t], h, c, lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0); outs.append(h)
    return torch.stack(outs, 1)

if __name__ == "__main__":
    torch.manual_seed(0)
    lstm, x = nn.LSTM(64, 192, batch_first=True), torch.randn(32, 128, 64)  # train_lm's default batch (the dropout experiment's): 32 windows of 128
    def fb(f):
        def run():
            lstm.zero_grad(); f().sum().backward()
        return run
    agree = float((lstm_by_hand(lstm, x) - lstm(x)[0]).abs().max())
    hand, ours = timed(fb(lambda: lstm_by_hand(lstm, x))), timed(fb(lambda: lstm(x)[0]))
    print(f"LSTM, 32 x 128 x 64 -> 192, forward + backward: by hand {hand * 1e3:.1f} ms, nn.LSTM {ours * 1e3:.1f} ms: "
          f"{hand / ours:.2f}x; largest difference {agree:.1e}")

    q, k, v = (torch.randn(32, 4, 64, 32, requires_grad=True) for _ in range(3))  # the transformer's batch: 4 heads of 32, windows of 64
    def fa(f):
        def run():
            for t in (q, k, v): t.grad = None
            f().sum().backward()
        return run
    agree = float((attention(q, k, v) - F.scaled_dot_product_attention(q, k, v, is_causal=True)).abs().max())
    hand, theirs = timed(fa(lambda: attention(q, k, v))), timed(fa(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)))
    print(f"causal attention, 32 x 4 heads x 64 x 32, forward + backward: by hand {hand * 1e3:.2f} ms, "
          f"scaled_dot_product_attention {theirs * 1e3:.2f} ms: {hand / theirs:.2f}x; largest difference {agree:.1e}")

    itos = [chr(i) for i in range(32, 32 + 82)]; stoi = {c: i for i, c in enumerate(itos)}
    for name, model in (("CharLSTM", CharLSTM(82)), ("TinyGPT", TinyGPT(82))):
        n = 500 if name == "CharLSTM" else 120  # the transformer rereads its whole window for every character: fewer keep the run short
        s = timed(lambda: generate(model, "A", n, stoi, itos), n=3)
        print(f"generate with {name}: {n / s:,.0f} characters per second")
