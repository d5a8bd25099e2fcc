"Tests of `course_lib.bird`, chapter 1's module: cheap to import; the chapter itself runs in tests/test_notebooks.py, its exercises in tests/test_checks.py."
import subprocess, sys

import pytest

# ---- importing is cheap

def _py(code): return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

@pytest.mark.parametrize("mod", ["bird", "photos"])
def test_import_leaves_fastai_and_torch_alone(mod):
    out = _py(f"import sys, course_lib.{mod}; print(sorted(" "{m.split('.')[0] for m in sys.modules} & {'fastai', 'torch'}))")
    assert out.strip() == "[]"

def test_import_is_fast():
    code = "import time; t = time.perf_counter(); import course_lib.bird; print(time.perf_counter() - t)"
    best = min(float(_py(code)) for _ in range(3))
    assert best < 0.5, f"import course_lib.bird took {best:.2f}s"


# ---- chapter 1 shows the whole game first; its plumbing lives in the toolbox's photos notebook

def _cells(name):
    import json
    from pathlib import Path
    return json.loads((Path(__file__).parent.parent / "nbs" / name).read_text())["cells"]

def test_chapter_1_trains_a_model_before_it_explains_anything():
    cells = [("".join(c["source"]), c["cell_type"]) for c in _cells("01_intro.ipynb")]
    trains = next(i for i, (s, t) in enumerate(cells) if t == "code" and ".fine_tune(" in s)
    explains = next(i for i, (s, t) in enumerate(cells) if t == "markdown" and s.startswith("## What deep learning is"))
    assert trains < explains, "chapter 1 must show the whole game (a trained model) before it takes it apart"

def test_download_plumbing_is_taught_in_the_photos_notebook_not_chapter_1():
    plumbing = ("def search_images", "def download_images", "def gather_images", "def make_standins", "def _fetch", "def _sniff")
    ch1 = "\n".join("".join(c["source"]) for c in _cells("01_intro.ipynb"))
    photos = "\n".join("".join(c["source"]) for c in _cells("photos.ipynb"))
    assert not [p for p in plumbing if p in ch1] and all(p in photos for p in plumbing)


# ---- the clean twin hands the learner none of the functions the chapter asks them to write

def test_the_twin_imports_none_of_the_learners_functions():
    "The whole game uses fastai's factory, not `bird_block`, and the convnext comparison no `n_trainable`: the twin imports neither."
    import re
    twin = "\n".join("".join(c["source"]) for c in _cells("clean/01_intro.ipynb") if c["cell_type"] == "code")
    line = re.search(r"^# everything but (.*): those you write below\nfrom course_lib\.bird import \(([^)]*)\)", twin, re.M)
    assert line, "the twin spells out what it imports from course_lib.bird"
    yours = {"best_weight", "bird_block", "normalize", "loss_by_hand", "error_by_hand", "n_trainable"}
    assert set(line[1].split(", ")) == yours and not yours & set(line[2].split(", ")), line[0]


# ---- what the chapter's code checks say to answers a learner writes

def _learners(src, **glob):
    "The function `src` defines, as if written in a notebook: its code belongs to no installed file."
    ns = dict(glob)
    exec(compile(src, "<learner>", "exec"), ns)
    return next(v for k, v in ns.items() if callable(v) and getattr(v, "__code__", None) and v.__code__.co_filename == "<learner>")

def _check(id, answer):
    import course_lib.exercises.ch01_intro  # registers the chapter's exercises
    from course_lib.checks import check
    return check(id, answer)

@pytest.mark.parametrize("src", [
    "import torchvision.transforms.functional as TF\ndef normalize(x, mean, std): return TF.normalize(x, mean, std)",
    "def normalize(x, mean, std):\n    import torchvision.transforms.functional as TF\n    return TF.normalize(x, mean, std)",
    "import torch.nn.functional as F, torch\ndef normalize(x, mean, std): return F.batch_norm(x, torch.tensor(mean), torch.tensor(std) ** 2, eps=0)",
    "import torch\ndef normalize(x, mean, std):\n    import torchvision.transforms as T\n    return T.Normalize(mean, std)(x)"])
def test_a_library_normalize_is_named(src):
    r = _check("01.normalize", _learners(src))
    assert r.status == "wrong" and "library" in r.message, r

@pytest.mark.parametrize("src", [
    "import torch\ndef normalize(x, mean, std): return (x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)",
    "import torch\ndef normalize(x, mean, std): return (x - torch.tensor(mean)[:, None, None]) / (torch.tensor(std)[:, None, None] + 1e-5)"])
def test_a_normalize_of_ones_own_is_correct(src):
    assert _check("01.normalize", _learners(src)).ok

def test_an_in_place_normalize_is_told_it_changed_its_input():
    r = _check("01.normalize", _learners("import torch\ndef normalize(x, mean, std): return x.sub_(torch.tensor(mean).view(1, -1, 1, 1)).div_(torch.tensor(std).view(1, -1, 1, 1))"))
    assert r.status == "wrong" and "changed the batch it was given" in r.message, r

@pytest.mark.parametrize("id,src", [
    ("01.loss_by_hand", "import numpy as np\ndef loss_by_hand(p, t): return np.float32(-p[range(len(t)), t].log().mean())"),
    ("01.loss_by_hand", "import numpy as np\ndef loss_by_hand(p, t): return np.float64(-p[range(len(t)), t].log().mean())"),
    ("01.error_by_hand", "import numpy as np\ndef error_by_hand(p, t): return np.float32((p.argmax(dim=1) != t).float().mean())"),
    ("01.error_by_hand", "import numpy as np\ndef error_by_hand(p, t): return (p.argmax(dim=1) != t).numpy().mean()")])
def test_numpy_numbers_are_numbers_for_both_by_hand_checks(id, src):
    assert _check(id, _learners(src)).ok

def test_sklearns_zero_one_loss_is_named():
    r = _check("01.error_by_hand", _learners("from sklearn.metrics import zero_one_loss\ndef error_by_hand(p, t): return zero_one_loss(t, p.argmax(dim=1))"))
    assert r.status == "wrong" and "zero_one_loss" in r.message, r


# ---- best_weight is judged on what the chapter hands it: candidates as a NumPy array

@pytest.mark.parametrize("src", [
    "import numpy as np\ndef best_weight(c, p):\n    scores = [p(w) for w in c]\n    return c[np.array(scores) == max(scores)][0]",
    "def best_weight(c, p): return max(c, key=p)",
    "import numpy as np\ndef best_weight(c, p): return c[int(np.argmax([p(w) for w in c]))]"])
def test_a_best_weight_that_works_on_the_chapters_array_is_correct(src):
    assert _check("01.best_weight", _learners(src)).ok

def test_a_best_weight_that_compares_each_candidate_with_its_neighbour_is_named():
    r = _check("01.best_weight", _learners("def best_weight(c, p):\n    best = c[0]\n    for a, b in zip(c, c[1:]):\n        if p(b) > p(a): best = b\n    return best"))
    assert r.status == "wrong" and "just before it" in r.message and "np.int" not in r.message, r


# ---- n_trainable: a frozen layer anywhere, not only the first

@pytest.mark.parametrize("src,says", [
    ("def n_trainable(m): return sum(p.numel() for p in m[-1].parameters())", "last layer's weights alone"),
    ("def n_trainable(m): return sum(p.numel() for p in list(m.parameters())[2:])", "every weight but the first layer's"),
    ("def n_trainable(m): return 24", "it returned 24")])
def test_counting_by_position_is_not_counting_trainable_weights(src, says):
    r = _check("01.n_trainable", _learners(src))
    assert r.status == "wrong" and says in r.message, r


# ---- bird_block: the whole game's call gives the settings, the messages name the slip without restating them

@pytest.mark.parametrize("method,says", [("pad", "borders"), ("crop", "cutting part of the picture off")])
def test_another_resize_method_is_named(method, says):
    src = ("def bird_block(size=192):\n    import fastai.vision.all as fv\n    return fv.DataBlock(blocks=(fv.ImageBlock, fv.CategoryBlock), get_items=fv.get_image_files,\n"
           f"        splitter=fv.RandomSplitter(valid_pct=0.2, seed=42), get_y=fv.parent_label, item_tfms=[fv.Resize(size, method={method!r})])")
    r = _check("01.datablock", _learners(src))
    assert r.status == "wrong" and says in r.message and "keeps the whole picture" not in r.message, r

def test_the_datablock_statement_gives_the_whole_games_call_and_the_twin_no_more():
    full = [("".join(c["source"]), c["cell_type"]) for c in _cells("01_intro.ipynb")]
    factory = next(s for s, t in full if t == "code" and "ImageDataLoaders.from_folder(path" in s)
    call = factory[factory.index("ImageDataLoaders.from_folder("):].split(", bs=")[0]
    statement = next(s for s, t in full if s.startswith("**Exercise** (`01.datablock`)"))
    assert call in statement, "the exercise asks for the DataBlock of the whole game's call: it quotes the call"
    blank = next("".join(c["source"]) for c in _cells("clean/01_intro.ipynb") if "def bird_block" in "".join(c["source"]))
    assert not any(x in blank for x in ("20", "0.2", "42", "squish")), "the twin's blank function restates none of the call's settings"


# ---- tune_and_score: choosing on both sets together is caught however ties are broken

@pytest.mark.parametrize("order", ["first", "last"])
def test_choosing_on_training_and_validation_together_is_named(order):
    src = ("import numpy as np\ndef tune_and_score(train, valid, candidates):\n"
           "    both = np.concatenate([train[0], valid[0]]), np.concatenate([train[1], valid[1]])\n"
           "    scores = [accuracy_on(both, t) for t in candidates]\n"
           f"    t = candidates[{'scores.index(max(scores))' if order == 'first' else 'len(scores) - 1 - scores[::-1].index(max(scores))'}]\n"
           "    return t, accuracy_on(valid, t)")
    acc = "def accuracy_on(data, threshold):\n    g, y = data\n    return float(((g > threshold) == y).mean())"
    ns = {}
    exec(compile(acc, "<given>", "exec"), ns)  # the chapter's own helper, given: not the function judged
    r = _check("01.tune_and_score", _learners(src, accuracy_on=ns["accuracy_on"]))
    assert r.status == "wrong" and "validation photos" in r.message, r
