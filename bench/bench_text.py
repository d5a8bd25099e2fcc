"""Time chapter 8's fine-tuning of a pretrained transformer (a fastai `Learner` around `TransformerClassifier`) against
Hugging Face's `Trainer` and a bare PyTorch loop: same pretrained weights, same head init, the very same batches in the
same order (fastai's shuffle, replayed), one cycle with the body at 1e-4 and the head at 1e-3. Accuracy on all 1,000 test reviews.

What differs between the three loops:
- fastai `fit_one_cycle`: its own Adam (decoupled weight decay 0.01, none on biases and LayerNorms, eps 1e-5), lr and
  beta1 on fastai's one-cycle schedule (cosine up over 25% of the steps from lr/25, down to lr/1e5; beta1 0.95-0.85-0.95).
- bare loop: `torch.optim.AdamW` with the same settings and `OneCycleLR` set to the same curve, but torch's peak comes
  one step before fastai's and its final lr on the last step, where fastai stops a step short: with few steps the lrs
  differ a little.
- Trainer: given that same AdamW and OneCycleLR through `optimizers=` (its own options give one lr to all parameters,
  and no one-cycle schedule); its default gradient clipping (max_grad_norm=1.0) turned off, as the others don't clip.
  It calls the model with keywords and takes the loss from its output, so `TransformerClassifier` is wrapped in a module
  computing the same cross-entropy; its dataloader is replaced by one replaying our batches, all epochs as one of its own.
  It needs `accelerate`; without it that row is skipped and the reason printed.
Timing: from a fresh model to the end of training (no validation, no prediction), median of RUNS runs taken in turns.
"""
import argparse, copy, os, random, statistics, sys, time, warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

N_TRAIN, EPOCHS, RUNS, MAX_LEN, BS, LRS, WD, THREADS, SEED = 512, 1, 3, 64, 16, (1e-4, 1e-3), 1e-2, 2, 1
PCT_START, DIV, DIV_FINAL = 0.25, 25.0, 1e5  # fastai's fit_one_cycle defaults

def adamw_one_cycle(model, n_steps):
    "AdamW and OneCycleLR doing what fastai's `fit_one_cycle(..., slice(*LRS))` does."
    # fastai leaves biases and LayerNorm weights (here, the 1-d parameters) out of weight decay
    groups = [{"params": [q for q in part.parameters() if (q.ndim > 1) == decay], "weight_decay": WD if decay else 0.0}
              for part in (model.body, model.head) for decay in (True, False)]
    opt = torch.optim.AdamW(groups, lr=LRS[1], betas=(0.95, 0.99), eps=1e-5)
    # torch ends at lr / (div_factor * final_div_factor), fastai at lr / div_final
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[LRS[0]] * 2 + [LRS[1]] * 2, total_steps=n_steps, pct_start=PCT_START,
                                                div_factor=DIV, final_div_factor=DIV_FINAL / DIV, base_momentum=0.85, max_momentum=0.95)
    return opt, sched

def bare_loop(model, epochs):
    opt, sched = adamw_one_cycle(model, sum(map(len, epochs)))
    model.train()
    for batches in epochs:
        for xb, yb in batches:
            F.cross_entropy(model(xb), yb).backward()
            opt.step(); sched.step(); opt.zero_grad()

class ForTrainer(nn.Module):
    "Our classifier as the Trainer wants it: keyword inputs, the loss in the output."
    def __init__(self, model): super().__init__(); self.model = model
    def forward(self, input_ids, labels=None):
        logits = self.model(input_ids)
        return {"loss": F.cross_entropy(logits, labels), "logits": logits}

def hf_trainer(model, epochs):
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback
    batches = [{"input_ids": xb, "labels": yb} for b in epochs for xb, yb in b]
    class SameBatches(Trainer):
        def get_train_dataloader(self): return torch.utils.data.DataLoader(batches, batch_size=None)
    args = TrainingArguments(output_dir="/tmp/bench_text_trainer", num_train_epochs=1, per_device_train_batch_size=BS,
                             max_grad_norm=0.0, use_cpu=True, seed=SEED, report_to="none", save_strategy="no",
                             eval_strategy="no", logging_strategy="no", disable_tqdm=True)
    trainer = SameBatches(model=ForTrainer(model), args=args, train_dataset=batches, optimizers=adamw_one_cycle(model, len(batches)))
    trainer.remove_callback(PrinterCallback)  # it prints the final metrics into our table
    trainer.train()

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=N_TRAIN)
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--runs", type=int, default=RUNS)
    a = p.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastai.basics import Learner
        from fastai.callback.schedule import fit_one_cycle  # noqa: F401  (patches Learner)
        import fastai.callback.progress  # noqa: F401  (gives Learner `no_bar`)
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from course_lib.text import TransformerClassifier, body_and_head, encode, pretrained_text, reviews, run_batches, text_dls
    torch.set_num_threads(THREADS)
    train, test = reviews()
    y_all, y_test = (train.label != "great").to_numpy().astype(int), (test.label != "great").to_numpy().astype(int)
    pick = np.random.default_rng(SEED).permutation(len(train))[: a.n_train]
    tok, body = pretrained_text()
    ids, ids_test = encode(tok, train.text.iloc[pick], MAX_LEN), encode(tok, test.text, MAX_LEN)
    dls = text_dls(list(zip(ids, y_all[pick].tolist())), [], bs=BS, pad_id=tok.pad_token_id)  # no validation set: time training only

    def replay(): dls.train.rng = random.Random(SEED)  # fastai's shuffle starts over: the Learner sees `epochs` again
    replay()
    epochs = [list(dls.train) for _ in range(a.epochs)]

    def fastai_learner(model, _):
        learn = Learner(dls, model, loss_func=nn.CrossEntropyLoss(), splitter=body_and_head)
        replay()
        with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the mean loss of the empty validation set
            learn.fit_one_cycle(a.epochs, slice(*LRS))

    def fresh():
        torch.manual_seed(SEED)  # the same head for all
        return TransformerClassifier(copy.deepcopy(body), pad_id=tok.pad_token_id)

    contenders = {"fastai Learner (chapter 8)": fastai_learner, "transformers Trainer": hf_trainer, "bare PyTorch loop": bare_loop}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads (load average {os.getloadavg()[0]:.1f} at start); "
          f"all-MiniLM-L6-v2, mean pool, linear head; {a.n_train:,} training reviews cut at {MAX_LEN} tokens: {len(epochs[0])} "
          f"batches of {BS} x {a.epochs} epoch(s); test: {len(ids_test):,} reviews; median of {a.runs} runs, run in turns\n")
    warm = fresh(); F.cross_entropy(warm(epochs[0][0][0]), epochs[0][0][1]).backward(); del warm  # thread pools, allocator
    times, acc, skipped = {c: [] for c in contenders}, {}, {}
    for run in range(a.runs):
        for name, fit in contenders.items():  # in turns, so that a slow moment of the machine hits them all
            if name in skipped: continue
            model = fresh()
            t = time.perf_counter()
            try: fit(model, epochs)
            except ImportError as e:
                skipped[name] = str(e).split(":")[0]
                continue
            times[name].append((time.perf_counter() - t) / a.epochs)
            if run == 0:  # the runs train alike; predicting once is enough
                model.eval()
                acc[name] = float((run_batches(lambda xb: model(xb).argmax(-1), ids_test, 64).numpy() == y_test).mean())
    base = statistics.median(times["fastai Learner (chapter 8)"])
    print(f"  {'':30}{'s/epoch':>9}{'test acc':>10}{'time / fastai':>15}")
    for name in contenders:
        if name in skipped: print(f"  {name:30}  skipped: {skipped[name]}"); continue
        s = statistics.median(times[name])
        print(f"  {name:30}{s:9.1f}{acc[name]:10.3f}{s / base:14.2f}x")

    def tfidf_acc(rows):
        vec = TfidfVectorizer()
        clf = LogisticRegression(max_iter=2000).fit(vec.fit_transform(train.text.iloc[rows]), y_all[rows])
        return clf.score(vec.transform(test.text), y_test)
    print(f"\n  for reference, TF-IDF + logistic regression: test acc {tfidf_acc(pick):.3f} on the same {a.n_train:,} reviews, "
          f"{tfidf_acc(np.arange(len(train))):.3f} on all {len(train):,}")
    return 0

if __name__ == "__main__": sys.exit(main())
