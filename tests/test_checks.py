"Tests of `course_lib.checks`, the learner's side: the blank, `check`, `hint`, and every chapter's exercises (negative tests)."
import json, os, shutil, subprocess, sys
from pathlib import Path

import math, pytest
from course_lib.grading import gives_away
from fastcore.nbio import read_nb

import course_lib.checks as C
from course_lib.checks import BlankError, NotYet, ____, answer_digest, check, exercise, exercises, is_blank, normalize, yes_no
from course_lib.grading import _check_call, chapters

root = Path(__file__).parent.parent
chapters = chapters(root / "nbs")

# ---- the blank

@pytest.mark.parametrize("use", [lambda b: b + 1, lambda b: 1 + b, lambda b: b(), lambda b: b.attr, lambda b: b[0],
                                 lambda b: str(b), lambda b: f"{b:>4}", lambda b: len(b), lambda b: list(b),
                                 lambda b: bool(b), lambda b: float(b), lambda b: b == 1, lambda b: b < 1, lambda b: -b])
def test_any_use_of_the_blank_says_fill_it_in(use):
    with pytest.raises(BlankError) as e: use(____)
    assert "fill in the blank" in str(e.value) and "\n" not in str(e.value)

def test_blank_can_be_shown_and_spotted():
    def f(x): return x * ____
    def g(x):
        def inner(): return ____
        return inner
    class K:
        def m(self): return ____
    assert repr(____) == "____" and is_blank(____) and is_blank(f) and is_blank(g) and is_blank(K) and is_blank({"a": [1, ____]})
    assert not any(is_blank(x) for x in (None, 0, "____", [1, 2], lambda x: x * 2))

def test_blank_error_is_one_line_in_ipython():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    sh = InteractiveShell.instance()
    C.quiet_blanks(sh)
    sh.user_ns["____"] = ____
    with capture_output() as out: sh.run_cell("x = ____ + 1")
    assert out.stderr.strip().count("\n") == 0 and "Fill in the blank" in out.stderr and "Traceback" not in out.stdout + out.stderr

# ---- check: every outcome is one short message, and nothing raises

def _double_test(f):
    if f(3) != 6: raise NotYet(f"double(3) returned {f(3)!r}")

@pytest.fixture
def ex():
    def ref(x): return 2 * x
    assert exercise("99.double", test=_double_test, name="double", reference=ref, hint="times two", wrong=[lambda x: x + 2]) is None
    e = exercises["99.double"]
    yield e
    del exercises["99.double"]

def _check_in(ns, *args):
    "Run `check` as a notebook cell would: from code whose globals are `ns`."
    ns.update(check=check, _args=args)
    exec("result = check(*_args)", ns)
    return ns["result"]

@pytest.mark.parametrize("answer,status,words", [
    (lambda x: x * 2, "correct", ""), (lambda x: x + 2, "wrong", "returned 5"),
    (lambda x: x.upper(), "error", "AttributeError"), (lambda x: x * ____, "blank", "fill in"),
    (lambda x: ____ + x, "blank", "fill in"), (____, "blank", "fill in")],
    ids=["right", "wrong", "raises", "blank-in-body", "blank-in-expression", "the-blank"])
def test_check_outcomes(ex, answer, status, words):
    r = _check_in({"check": check}, "99.double", answer)
    assert r.status == status and words in r.message and "\n" not in repr(r)
    assert C.history[-1] is r

def test_check_reads_the_named_variable_and_fills_a_blank_with_a_stand_in(ex):
    import inspect
    ns = {"check": check, "double": lambda x: x * 2}
    assert _check_in(ns, "99.double").status == "correct"
    ns = {"check": check}  # never defined: not attempted, and later cells get a stand-in that shows no solution
    r = _check_in(ns, "99.double")
    assert r.status == "blank" and "stand-in" in r.message and ns["double"](4) == 8
    assert "2 * x" not in inspect.getsource(ns["double"]), "`double??` on the stand-in shows the course's code"
    again = _check_in(ns, "99.double")
    assert again.status == "blank" and "still the course's stand-in" in again.message, again

def test_check_survives_anything(ex):
    def explode(x): raise SystemError("kaboom " * 100)
    r = _check_in({"check": check}, "99.double", explode)
    assert r.status == "error" and len(r.message) < 200
    assert _check_in({"check": check}, "99.nope", 1).status == "error"

def test_results_render_coloured_and_plain(ex):
    ok, no = _check_in({"check": check}, "99.double", lambda x: 2 * x), _check_in({"check": check}, "99.double", lambda x: x)
    assert "color:#2e7d32" in ok._repr_markdown_() and "Correct" in ok._repr_markdown_() and repr(ok) == "99.double: ✓ Correct"
    assert "color:#c62828" in no._repr_markdown_() and repr(no).startswith("99.double: ✗ Not yet — ")
    assert "times two" in C.hint("99.double").data

def test_short_answers_compare_normalised():
    d = answer_digest("99.q", "Over fitting")
    for same in ("  over   FITTING. ", "over-fitting", "overfitting", "it is overfitting!"):
        assert answer_digest("99.q", same) == d, same
    assert answer_digest("99.r", "over fitting") != d, "the salt includes the exercise"
    assert normalize((16, 3, 64, 64)) == normalize([16, 3, 64, 64]) and normalize(0.2) == normalize(0.1 + 0.1) == normalize("0.2")
    assert normalize("Weights") == normalize("weight") and normalize("the loss") == normalize("loss") != normalize("metric")
    exercise("99.q", digest=(d, answer_digest("99.q", "too flexible")))
    try:
        assert check("99.q", "over-fitting").ok and check("99.q", "Too flexible.").ok and check("99.q", "underfitting").status == "wrong"
        assert "over fitting" not in json.dumps(exercises["99.q"].__dict__, default=str)
    finally: del exercises["99.q"]

def _short_answers():
    return [id for ch in (f.name[:2] for f in chapters) for id in C.chapter_exercises(ch) if exercises[id].digest is not None]

@pytest.mark.parametrize("full", chapters, ids=lambda p: p.name)
def test_every_short_answer_is_tried_with_the_forms_people_write(full):
    "Each questionnaire answer has a `try_forms` call beside it, in a hidden cell of its chapter (run by the notebook tests), with right and wrong forms."
    import ast
    calls = {}
    for c in read_nb(full).cells:
        if c.cell_type != "code" or "try_forms(" not in c.source: continue
        for node in ast.walk(ast.parse("\n".join(l for l in c.source.splitlines() if not l.lstrip().startswith("#|")))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "try_forms":
                kw = {k.arg: k.value for k in node.keywords}
                calls[ast.literal_eval(node.args[0])] = (len(kw["right"].elts) if "right" in kw else 0, len(kw["wrong"].elts) if "wrong" in kw else 0)
        assert "#| hide" in c.source and "#| export" not in c.source, f"{full.name}: try_forms belongs in a hidden cell that is not exported"
    for id in (i for i in _short_answers() if i.startswith(full.name[:2])):
        assert id in calls, f"{id} has no try_forms(...) beside its question in {full.name}"
        right, wrong = calls[id]
        assert right >= 4 and wrong >= 2, f"{id}: try_forms lists {right} right and {wrong} wrong forms; people write more"

def test_no_yes_no_or_choice_lists_its_wrong_options():
    "A list of a choice's wrong options in the importable module would let a learner eliminate their way to the answer."
    for id in _short_answers():
        e = exercises[id]
        if e.options: assert not e.wrong, f"{id}: a choice keeps its wrong options in try_forms, not in the module"

# messages that name the actual mismatch, and answers of another type than the chapter's that are still right

def test_right_answers_in_another_container_are_right():
    "A NumPy scalar is one number, a list of two is two numbers, a NumPy matrix of counts is the counts."
    import numpy as np, torch
    from course_lib.lr_find import ema_step, exp_lr
    from course_lib.production import confusion
    for c in ("03", "04"): C.chapter_exercises(c)
    judge = lambda id, f: C._verdict(exercises[id], f)  # the course's own functions, in another container: what they return is judged
    assert judge("03.exp_lr", lambda s, e, p: np.float32(exp_lr(s, e, p))).ok
    assert judge("03.ema_step", lambda *a: list(ema_step(*a))).ok
    assert judge("04.confusion", lambda p, t, n: confusion(p, t, n).numpy()).ok

@pytest.mark.parametrize("id,answer,words", [
    ("03.ema_step", lambda *a: 0.5, "it returned a float; expected two numbers, as a tuple"),
    ("03.exp_lr", lambda s, e, p: "1e-3", "gave a str; expected one number (a Python float, or a NumPy or PyTorch scalar"),
    ("04.confusion", lambda p, t, n: __import__("torch").zeros(2, 2), "a tensor of shape (2, 2); expected shape (3, 3)"),
    ("04.confusion", lambda p, t, n: {"counts": 3}, "it returned a dict; expected a tensor of counts")])
def test_messages_name_the_type_or_shape_expected(id, answer, words):
    C.chapter_exercises(id[:2])
    r = check(id, answer)
    assert r.status == "wrong" and words in r.message, r

def test_safe_load_tells_knowledge_from_the_default():
    "`torch.load(path)` is safe today only because torch 2.6 changed its default: the check runs it under the old one."
    import torch
    C.chapter_exercises("04")
    r = check("04.safe_load", lambda p: torch.load(p))
    assert r.status == "wrong" and "today's default" in r.message, r
    assert check("04.safe_load", lambda p: torch.load(p, weights_only=True)).ok

# ---- whose fault: an error in the learner's code is theirs; one raised only inside the course's check is the course's

def test_an_error_in_the_check_is_the_courses_not_the_learners():
    import operator
    exercise("99.calls_it", test=operator.call)  # a check that calls the learner's answer
    exercise("99.broken_check", test=json.loads)  # only the course's and the libraries' code can raise here
    mine = check("99.calls_it", lambda: 1 / 0)
    assert mine.status == "error" and mine.message.startswith("ZeroDivisionError"), mine
    theirs = check("99.broken_check", 5)
    assert theirs.status == "bug" and "a bug in the course's check, not in your answer" in theirs.message, theirs
    assert "Your code" not in repr(theirs) and not theirs.ok

def test_error_by_hand_check_says_not_yet_to_a_wrong_answer():
    "It used to fail formatting fastai's TensorBase, and blamed the learner's code."
    from fastai.torch_core import TensorBase
    r = check("01.error_by_hand", lambda p, t: TensorBase((p.argmax(dim=1) == t).float().mean()))
    assert r.status == "wrong" and "accuracy" in r.message, r

def test_a_function_with_the_wrong_arguments_is_the_learners_error():
    "The call fails before any of their code runs, so the traceback alone would blame the check."
    def linear1(xb): return xb
    r = check("02.linear1", linear1)
    assert r.status == "error" and "linear1() takes 1 positional argument" in r.message, r

# ---- progress(): kept in a small local file, shown per chapter

def test_progress_is_kept_and_shown_per_chapter(tmp_path, monkeypatch):
    f = tmp_path / "me" / "progress.json"
    monkeypatch.setenv("COURSE_PROGRESS", str(f))
    def ema_step(avg, loss, count, beta=0.98):
        avg = beta * avg + (1 - beta) * loss
        return avg, avg / (1 - beta ** count)
    assert check("03.ema_step", ema_step).ok and check("03.ema_step", lambda avg, loss, count, beta=0.98: (loss, loss)).status == "wrong"
    assert check("03.exp_lr", lambda start, end, pos: start).status == "wrong" and check("03.valley", ____).status == "blank"
    check("99.nope", 1)  # not an exercise: not kept
    kept = json.loads(f.read_text())
    assert set(kept) == {"03.ema_step", "03.exp_lr", "03.valley"}
    assert kept["03.ema_step"]["done"] and kept["03.ema_step"]["checks"] == 2 and kept["03.ema_step"]["status"] == "wrong"
    p = C.progress()
    assert list(p.chapters) == [f.name[:2] for f in chapters], "every chapter is listed"
    assert p.chapters["03"]["03.ema_step"] == "done" and p.chapters["03"]["03.exp_lr"] == "not yet"
    assert p.chapters["03"]["03.valley"] == "not attempted" and set(p.chapters["01"].values()) == {"not attempted"}
    assert "Chapter 03: 1 of" in repr(p) and "✓ ema_step" in repr(p) and "✗ exp_lr" in repr(p) and str(f) in repr(p)

def test_progress_is_kept_in_the_home_folder_by_default(tmp_path, monkeypatch):
    "With COURSE_PROGRESS unset, results go to ~/.course_lib/progress.json, as the README says, and nothing to the working folder."
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(); work.mkdir()
    monkeypatch.delenv("COURSE_PROGRESS", raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    assert check("03.exp_lr", lambda start, end, pos: start).status == "wrong"
    f = home / ".course_lib" / "progress.json"
    assert f.is_file(), f"with COURSE_PROGRESS unset, progress should be kept in ~/.course_lib/progress.json; files made: {sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob('*'))}"
    assert set(json.loads(f.read_text())) == {"03.exp_lr"}
    assert list(work.iterdir()) == [], "the progress file went to the working folder, not the home folder"
    assert "kept in ~/.course_lib/progress.json" in repr(C.progress())

def test_progress_file_that_is_corrupt_or_unwritable_costs_one_line_never_a_check(tmp_path, monkeypatch, capsys):
    f = tmp_path / "progress.json"
    f.write_text('{"03.exp_lr": {"done": tr')  # cut short
    monkeypatch.setenv("COURSE_PROGRESS", str(f))
    assert check("03.exp_lr", lambda start, end, pos: start).status == "wrong"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(f) in err and "progress.json.corrupt" in err
    assert (tmp_path / "progress.json.corrupt").read_text().startswith('{"03.exp_lr"') and set(json.loads(f.read_text())) == {"03.exp_lr"}
    monkeypatch.setenv("COURSE_PROGRESS", str(f / "inside-a-file.json"))  # its folder is a file: can't be written
    monkeypatch.setattr(C, "_unsaved", [])
    assert check("03.exp_lr", lambda start, end, pos: start).status == "wrong" and check("03.exp_lr", ____).status == "blank"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "progress not saved" in err and "COURSE_PROGRESS" in err
    monkeypatch.setenv("COURSE_PROGRESS", "off")
    before = sorted(tmp_path.iterdir())
    assert check("03.exp_lr", ____).status == "blank" and sorted(tmp_path.iterdir()) == before
    assert "nothing is kept" in repr(C.progress())

# ---- keep_progress(): the record survives a recycled Colab or Kaggle runtime

_RUNTIME = ["HOME", "COURSE_PROGRESS", "COURSE_DRIVE", "COLAB_RELEASE_TAG", "COLAB_GPU", "KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_URL_BASE"]

def _runtime(tmp_path, home, platform="Colab", drive=None, **extra) -> dict:
    "The environment of a fresh runtime: its own home folder, no COURSE_PROGRESS, and Drive mounted or not."
    env = {k: v for k, v in os.environ.items() if k not in _RUNTIME}
    env.update(HOME=str(tmp_path / home), COURSE_OFFLINE="1", **({"COLAB_RELEASE_TAG": "test"} if platform == "Colab" else {}), **extra)
    if drive: env["COURSE_DRIVE"] = str(drive)
    return env

def _in_runtime(env, code) -> str:
    "Run `code` in a new Python process (a new runtime), with every chapter's exercises registered; its output."
    setup = "import importlib, pkgutil, course_lib.exercises as E\n[importlib.import_module('course_lib.exercises.' + m.name) for m in pkgutil.iter_modules(E.__path__)]\n"
    r = subprocess.run([sys.executable, "-c", setup + code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout + r.stderr

def test_progress_survives_a_recycled_colab_runtime(tmp_path):
    "Checks made on one runtime, kept on Drive with keep_progress(), the runtime wiped: a new runtime with Drive mounted finds them, and adds its own."
    drive = tmp_path / "MyDrive"
    one = _runtime(tmp_path, "runtime1")
    out = _in_runtime(one, "from course_lib.checks import check, progress\ncheck('08.q_idf_all', 1); check('08.q_which_set', 'the test set')\nprint(repr(progress()))")
    assert "This Colab runtime's files go when it is recycled" in out and "keep_progress()" in out, "on Colab, progress() says the record doesn't last"
    drive.mkdir()  # Drive mounted
    out = _in_runtime(_runtime(tmp_path, "runtime1", drive=drive), "from course_lib.checks import keep_progress\nkeep_progress()")
    kept = drive / "course_lib" / "progress.json"
    assert "1 exercise done" in out and str(kept) in out and "Google Drive" in out
    shutil.rmtree(tmp_path / "runtime1")  # the runtime is recycled
    two = _runtime(tmp_path, "runtime2", drive=drive)
    out = _in_runtime(two, "from course_lib.checks import check, progress\ncheck('08.q_pretrain', 'no')\nprint(repr(progress()))")
    assert "✓ q_idf_all" in out and "✗ q_which_set" in out and "✓ q_pretrain" in out and f"kept in {kept}" in out
    assert "goes when" not in out, "a record on Drive lasts: no warning"
    assert {k for k, r in json.loads(kept.read_text()).items() if r["done"]} == {"08.q_idf_all", "08.q_pretrain"}

def test_a_record_made_before_drive_was_mounted_is_added_not_lost(tmp_path):
    drive = tmp_path / "MyDrive"
    (drive / "course_lib").mkdir(parents=True)
    kept = drive / "course_lib" / "progress.json"
    kept.write_text(json.dumps({"08.q_idf_all": {"status": "correct", "done": True, "checks": 3, "last": "2026-12-01"},
                                "08.q_pretrain": {"status": "correct", "done": True, "checks": 1, "last": "2026-12-01"}}))
    _in_runtime(_runtime(tmp_path, "rt"), "from course_lib.checks import check\ncheck('08.q_which_set', 'the validation set'); check('08.q_pretrain', 'yes')")  # Drive not mounted yet
    local = tmp_path / "rt" / ".course_lib" / "progress.json"
    out = _in_runtime(_runtime(tmp_path, "rt", drive=drive), "from course_lib.checks import progress\nprint(repr(progress()))")  # now mounted
    data = json.loads(kept.read_text())
    assert set(data) == {"08.q_idf_all", "08.q_pretrain", "08.q_which_set"} and data["08.q_idf_all"]["checks"] == 3
    assert data["08.q_pretrain"]["done"] and data["08.q_pretrain"]["status"] == "wrong", "done stays done; the latest status wins"
    assert not local.exists() and (local.parent / "progress.json.merged").is_file(), "the runtime's file is kept aside, not deleted, and not added twice"
    assert "is added to" in out and "✓ q_which_set" in out

def test_keep_progress_on_kaggle_carries_a_saved_output_on(tmp_path, monkeypatch, capsys):
    "Kaggle keeps /kaggle/working as the notebook's output; a later session that adds it as input gets the record back."
    kaggle = tmp_path / "kaggle"
    saved = kaggle / "input" / "my-notebook" / "course_lib" / "progress.json"
    saved.parent.mkdir(parents=True)
    saved.write_text(json.dumps({"07.q_hinge": {"status": "correct", "done": True, "checks": 1, "last": "2026-12-01"}}))
    for k in _RUNTIME: monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home")); monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    monkeypatch.setattr(C, "_kaggle", kaggle)
    assert check("08.q_idf_all", 1).ok
    assert "This Kaggle runtime's files go" in repr(C.progress())
    kept = C.keep_progress()
    assert kept == kaggle / "working" / "course_lib" / "progress.json" and set(json.loads(kept.read_text())) == {"07.q_hinge", "08.q_idf_all"}
    out = capsys.readouterr().out
    assert "2 exercises done" in out and "Save Version" in out and str(saved) in out
    assert check("08.q_pretrain", "no").ok and "08.q_pretrain" in json.loads(kept.read_text()), "later checks go to the kept file"
    assert "goes when" not in repr(C.progress())

def test_keep_progress_elsewhere_needs_a_folder(tmp_path, monkeypatch, capsys):
    for k in _RUNTIME: monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(ValueError, match="already lasts"): C.keep_progress()
    assert C.keep_progress(tmp_path / "elsewhere") == tmp_path / "elsewhere" / "progress.json"
    assert "0 exercises done" in capsys.readouterr().out
    monkeypatch.setenv("COLAB_RELEASE_TAG", "test"); monkeypatch.setenv("COURSE_DRIVE", str(tmp_path / "not-mounted"))
    with pytest.raises(RuntimeError, match="mount Google Drive yourself, or name a folder"): C.keep_progress()  # no google.colab outside Colab

# ---- the lesson apart from its grader

def _lesson_modules():
    "The chapters' own modules: what each chapter notebook's `#| default_exp` names."
    import re
    return [re.search(r"#\|\s*default_exp\s+(\S+)", "".join(c.source))[1] for f in chapters
            for c in read_nb(f).cells[:3] if "default_exp" in "".join(c.source)]

def test_chapter_modules_hold_the_lesson_and_no_check_code():
    mods = _lesson_modules()
    assert len(mods) == len(chapters), mods
    for m in mods:
        src = (root / "course_lib" / f"{m}.py").read_text()
        for smell in ("NotYet", "exercise(", "def _test_", "answer_digest", "_answers", "checks import"):
            assert smell not in src, f"course_lib/{m}.py holds check code ({smell!r}): export it with #| export exercises.ch…"
    code = f"import course_lib.checks as C\nimport {', '.join('course_lib.' + m for m in mods)}\nprint(len(C.exercises))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "0", "importing a chapter's module registered exercises: it must only teach"

def test_exercises_are_found_by_their_module_name_alone():
    "A chapter's checks are found from `course_lib/exercises/chNN_*.py`, in a fresh process, without importing anything first."
    code = "from course_lib.checks import check; print(check('03.valley', lambda *a: 0).status)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "wrong", out
    assert not (root / "course_lib" / "checks.py").read_text().count('"course_lib.bird"'), "no chapter list in checks.py"

# ---- every chapter: its exercises

def test_every_chapter_has_exercises_and_a_clean_twin():
    assert chapters, "no chapters in nbs/"
    for f in chapters:
        assert (root / "nbs" / "clean" / f.name).exists(), f"{f.name} has no clean twin: run course-lib clean"
        mod = root / "course_lib" / "exercises" / f"ch{f.stem}.py"
        assert mod.exists(), f"{f.name}'s exercises belong in {mod.relative_to(root)} (cells marked #| export exercises.ch{f.stem})"
        assert C.chapter_exercises(f.name[:2]), f"{mod.name} registers no exercise of chapter {f.name[:2]}"

def _ids(nb): return {m for c in nb.cells if c.cell_type == "code" for m in _check_call.findall(c.source)}

@pytest.mark.parametrize("full", chapters, ids=lambda p: p.name)
def test_exercises_are_registered_checked_and_reject_wrong_answers(full):
    "(a) every check of the chapter exists, and each known-wrong answer fails it with a reason."
    import importlib
    importlib.reload(importlib.import_module(f"course_lib.exercises.ch{full.stem}"))  # as installed: a notebook run in this process may have registered its own
    mine = {k: exercises[k] for k in C.chapter_exercises(full.name[:2])}
    used = _ids(read_nb(full))
    assert used and used == set(mine), f"checked but not registered: {used - set(mine)}; registered, never checked: {set(mine) - used}"
    for id, e in mine.items():
        if e.digest is not None: continue  # short answers: their forms, right and wrong, are tried beside each question (try_forms)
        assert e.wrong, f"{id} has no known-wrong answers to test it with"
        for w in e.wrong:
            r = C._verdict(e, w)  # these live in course_lib: judged on what they do, as the learner's would be
            assert r.status == "wrong" and r.message, f"{id}: the wrong answer {w!r} got {r!r}"
        if e.reference is not None:
            assert C._verdict(e, C._reference(e)).ok, f"{id}: the course's own answer fails its check"
            assert check(id, C._reference(e)).status == "copied", f"{id}: the course's own answer, handed to check, is called Correct"



@pytest.mark.parametrize("text,want", [
    ("sixty-three thousand", 63000), ("63k", 63000), ("63,000", 63000), ("63_000", 63000), ("about 63000 parameters", 63000),
    ("thirteen", 13), ("13x13", 13), ("25×25", 25), ("64 x 30", 1920), ("forty-five", 45), ("eighty thousand", 80000),
    ("one eighth", 0.125), ("1/8", 0.125), ("a sixteenth", 0.0625), ("10^-2", 0.01),
    ("1e-2", 0.01), ("near zero", 0), ("close to 0", 0), ("the 55th iteration", 55), ("55th", 55), ("24 doublings", 24),
    ("~50", 50), ("fifty", 50), ("twice", 2), ("2x", 2), ("half", 0.5), ("13 pixels wide", 13), ("two hundred forty", 240),
    ("a quarter star", 0.25), ("1920 (64 images × 30 units)", 1920), ("64 × 30 = 1920", 1920), ("they go to zero", 0),
    ("63 thousand", 63000), ("one hundredth", 0.01), ("at iteration 55", 55), ("80 000", 80000), ("one linear layer", 1),
    ("3 + 1", 4), ("512*37 + 37", 18981), ("(512+1)*37", 18981), ("300 - 60", 240), ("193 + 1", 194), ("1/(1+1)", 0.5), ("½", 0.5),
    ("1½", 1.5), ("√4", 2), ("square root of 4", 2), ("sqrt(2/512)", 0.0625), ("10⁻²", 0.01), ("10 to the power of -2", 0.01), ("2 cubed", 8), ("two to the power three", 8), ("2 to the 3rd", 8), ("three squared", 9),
    ("it's zero", 0), ("it’s 0", 0), ("50 or so", 50), ("A-Z: 26", 26), ("one per letter, 26", 26), ("26: one per letter", 26),
    ("15 per epoch, 45 in all", 45), ("3 is wrong, 8", 8), ("2 - no, 6", 6), ("not 6 but 2", 2), ("0, no wait, 4096", 4096), ("they add up to 1024", 1024), ("0.25 of 4096", 1024), ("3 epochs of 15, so 45", 45), ("roughly halves it", 2), ("reduces it by half", 2),
    ("1 1/4", 1.25), ("one and a quarter", 1.25), ("two and a half", 2.5), ("a fair choice among 8 symbols", 8), ("a choice among 8", 8)])
def test_numbers_read_as_people_write_them(text, want):
    assert want in C.numbers_in(text), (text, C.numbers_in(text))

def test_a_rejected_short_answer_says_what_kind_is_expected():
    "Never just 'not the answer': a number says how exact, a choice lists its options, a phrase says what it should be."
    exercise("99.n", number=True, sig=2, digest=answer_digest("99.n", 63000))
    exercise("99.c", options={"random ratings": ["random"], "the latest ratings": ["latest", "most recent"]},
             digest=answer_digest("99.c", "the latest ratings"), why={answer_digest("99.c", "random ratings"): "they mix the future into training"})
    exercise("99.y", options=yes_no(no=["only at infinity"]), digest=answer_digest("99.y", "no"))
    try:
        assert check("99.n", "sixty-three thousand").ok and check("99.n", 62600).ok
        r = check("99.n", "64k")
        assert r.status == "wrong" and "64000" in r.message and "two significant figures" in r.message and "63" not in r.message.replace("“63k”", "")
        assert "expected a number" in check("99.n", "lots").message
        assert all(check("99.c", a).ok for a in ("the latest ratings of each user", "the most recent ratings", "latest", "not random: the latest"))
        assert "mix the future" in check("99.c", "random").message and "expected one of" in check("99.c", "the middle ones").message
        assert all(check("99.y", a).ok for a in ("no", False, "never", "only at infinity", "No, it is not", "nope"))
        assert all(check("99.y", a).status == "wrong" for a in ("yes", True, "it can", "Yes."))
        assert "“yes” or “no”" in check("99.y", "maybe").message
    finally:
        for i in ("99.n", "99.c", "99.y"): del exercises[i]

def test_fair_checks_reject_what_breaks_later_and_accept_plain_numbers():
    "The checks of issue 17: forms that pass a check and break a later cell are refused; a Python float is one number."
    import torch
    from torch import nn
    C.chapter_exercises("01"); C.chapter_exercises("02")
    non_leaf = check("02.init_params", lambda size, std=1.0: torch.randn(size).requires_grad_() * std)
    assert non_leaf.status == "wrong" and ".grad stays None" in non_leaf.message
    stack_only = check("02.mnist_distance", lambda a, b: (a - b).abs().mean((1, 2)))
    assert stack_only.status == "wrong" and "single image" in stack_only.message
    twice = check("02.simple_net", lambda n_in=784, n_hidden=30: nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, 1), nn.Sigmoid()))
    assert twice.status == "wrong" and "sigmoid" in twice.message
    as_float = check("01.loss_by_hand", lambda p, t: float(-p[range(len(t)), t].log().mean()))
    assert as_float.ok, as_float
    per_image = check("01.loss_by_hand", lambda p, t: -p[range(len(t)), t].log())
    assert per_image.status == "wrong" and "one loss per image" in per_image.message
    assert check("01.error_by_hand", lambda p, t: float((p.argmax(dim=1) != t).float().mean())).ok

def test_questionnaire_hints_stand_alone():
    "No questionnaire hint points at a section the clean twin doesn't keep: each carries a nudge of its own."
    for ch in sorted(p.name[:2] for p in (Path(__file__).parents[1] / "nbs").glob("[0-9][0-9]_*.ipynb")):
        for id in C.chapter_exercises(ch):
            h = exercises[id].hint
            assert h and "section above" not in h and "the loss section" not in h, (id, h)

@pytest.mark.parametrize("full", chapters, ids=lambda p: p.name)
def test_a_librarys_version_of_what_an_exercise_builds_is_named(full):
    "Handed a library's function, or code calling the library's version it is asked to rebuild (`builds`), a code exercise says so rather than Correct."
    import torch, types
    for id in C.chapter_exercises(full.name[:2]):
        e = exercises[id]
        if e.test is None or not e.name: continue
        r = C._judge(e, torch.nn.functional.softmax)
        assert r.status == "wrong" and "a library's own" in r.message, f"{id}: handed torch's softmax: {r!r}"
        for name in e.builds:
            calls = types.FunctionType(compile(f"def f(*a, **k): return lib.{name}(*a, **k)", "<learner>", "exec").co_consts[0], {"lib": torch})
            r = C._judge(e, calls)
            assert r.status == "wrong" and f"`{name}`" in r.message and "library's version" in r.message, f"{id}: an answer calling {name}: {r!r}"

# ---- reading short answers: the slips a reader's pass found (a bound is not its number, "I don't know" is no "no", …)

def _rejected(id, answer):
    r = check(id, answer)
    return r.status == "wrong" and len(r.message) > 20

@pytest.mark.parametrize("id,answer", [
    ("02.q_lr_limit", "greater than 1/8"), ("02.q_lr_limit", "above 1/8"), ("02.q_lr_limit", "more than 0.125"), ("02.q_lr_limit", "at least 0.125"),
    ("02.q_two_linear", "more than one"), ("02.q_two_linear", "at least one"), ("02.q_two_linear", "fewer than one"),
    ("02.q_flat_gradient", "greater than zero"), ("02.q_flat_gradient", "more than zero"), ("02.q_flat_gradient", "above 0"),
    ("02.q_sigmoid0", "less than 0.5"), ("02.q_batches", "at most 194"), ("02.q_batches", "193 or 194"), ("01.q_epochs", "3 to 5")])
def test_a_bound_or_a_range_is_not_its_number(id, answer):
    "'more than 0.125' is not 0.125: said so in one line, without the number."
    from course_lib.grading import gives_away
    C.chapter_exercises(id[:2])
    r = check(id, answer)
    assert r.status == "wrong" and "\n" not in r.message, r
    right = {"02.q_lr_limit": 0.125, "02.q_two_linear": 1, "02.q_flat_gradient": 0, "02.q_sigmoid0": 0.5, "02.q_batches": 194, "01.q_epochs": 4}[id]
    assert check(id, right).ok and not gives_away(r.message.replace(repr(answer), ""), right), r
    if C._reading(answer)[1] == "bound": assert "is a bound" in r.message, r
    if C._reading(answer)[1] == "range": assert "is a range" in r.message, r

@pytest.mark.parametrize("answer", ["non zero", "non-zero", "anything but zero", "other than zero", "zero or infinite", "not zero"])
def test_an_exclusion_or_two_numbers_is_not_the_number(answer):
    C.chapter_exercises("02")
    assert _rejected("02.q_flat_gradient", answer) and C.numbers_in(answer) == []

def test_a_bound_is_its_number_where_the_question_asks_for_a_limit_of_that_kind():
    "An exercise opts in with `bound`: its question asks 'below what value?', so 'less than 0.125' answers it, 'above 0.125' doesn't, and 'at most 0.125' (which takes 0.125 in) is told so."
    exercise("99.lim", number=True, bound="below", digest=answer_digest("99.lim", 0.125))
    exercise("99.near", number=True, sig=2, digest=tuple(answer_digest("99.near", x) for x in (1.9, 2, 2.1)))
    try:
        for a in ("0.125", "1/8", "below 0.125", "less than 0.125", "it must be less than 0.125", "< 0.125", "lr < 1/8", "under one eighth",
                  "0.125 > lr", "about 0.125", "must stay below 1/8", "not at least 0.125"):
            assert check("99.lim", a).ok, (a, check("99.lim", a))
        for a in ("above 0.125", "more than 0.125", "at least 1/8", "lr > 0.125", "not below 0.125"):
            r = check("99.lim", a)
            assert r.status == "wrong" and "bound" in r.message and "other side" in r.message and "0.125" not in r.message.replace(repr(a), ""), r
        for a in ("lr <= 1/8", "at most 0.125", "up to 1/8", "no more than 0.125", "0.125 or less", "lr ≤ 0.125", "0.125 >= lr", "not above 0.125", "it must not exceed 0.125"):
            r = check("99.lim", a)
            assert r.status == "wrong" and "includes the limit itself" in r.message and "\n" not in r.message and "0.125" not in r.message.replace(repr(a), ""), r
        assert "reads as 0.2" in check("99.lim", "less than 0.2").message
        assert check("99.near", "just under 2").ok and check("99.near", "slightly over 2").ok and not check("99.near", "over 2").ok
        assert check("99.near", "1.9 to 2.1").ok and "range" in check("99.near", "1 to 4").message
        with pytest.raises(ValueError): exercise("99.bad", number=True, bound="under")
    finally:
        for i in ("99.lim", "99.near"): del exercises[i]

@pytest.mark.parametrize("bound,right,strictness,side", [
    ("below", ["fewer than 32", "less than 32", "under 32", "below 32", "x < 32", "32 > x"], ["at most 32", "up to 32", "no more than 32", "32 or less", "x <= 32", "not above 32"], ["at least 32", "more than 32"]),
    ("at most", ["at most 32", "up to 32", "no more than 32", "32 or fewer", "x ≤ 32", "not above 32", "32 max"], ["fewer than 32", "less than 32", "under 32", "below 32", "x < 32"], ["above 32", "32 or more"]),
    ("above", ["x > 1.25", "above 1.25", "more than 1.25", "over 1.25", "greater than 1.25", "not at most 1.25"], ["x ≥ 1.25", "at least 1.25", "1.25 or more", "not below 1.25", "1.25 and up", "no less than 1.25"], ["below 1.25"]),
    ("at least", ["x ≥ 1.25", "at least 1.25", "1.25 or more", "not below 1.25", "1.25 and up", "no less than 1.25", "x >= 1.25"], ["x > 1.25", "above 1.25", "more than 1.25", "over 1.25"], ["at most 1.25"])])
def test_a_bound_counts_only_when_its_side_and_strictness_match(bound, right, strictness, side):
    "'fewer than 32' leaves 32 out and 'at most 32' takes it in: a bound of the right side but the other strictness is told so in one line, without the number."
    n = 32 if "32" in right[0] else 1.25
    exercise("99.b", number=True, bound=bound, digest=answer_digest("99.b", n))
    try:
        for a in right: assert check("99.b", a).ok, (bound, a, check("99.b", a))
        for a in strictness:
            r = check("99.b", a)
            assert r.status == "wrong" and "the limit itself" in r.message and "\n" not in r.message, (bound, a, r)
            assert not gives_away(r.message.replace(repr(a), ""), n), r
        for a in side: assert "other side" in check("99.b", a).message, (bound, a, check("99.b", a))
    finally: del exercises["99.b"]

@pytest.mark.parametrize("text,want", [
    ("four: one frozen, three unfrozen", 4), ("4: 1 frozen, 3 unfrozen", 4), ("240: 60 held back", 240), ("4 — 1 frozen, 3 unfrozen", 4),
    ("26 — one output per letter", 26), ("24: 2^23 = 8.4e6 is not enough", 24), ("250 // 16 * 3", 45), ("3 × (250 // 16)", 45),
    ("two can be replaced by one", 1), ("one layer instead of two", 1), ("2 can be merged into 1", 1), ("193.6875 rounded up to 194", 194),
    ("0.03, i.e. 10x less", 0.03), ("0.03 — ten times smaller", 0.03), ("0.03, ten times less than 0.3", 0.03),
    ("55 iterations after the drop", 55), ("the 55th iteration after the drop", 55),
    ("half of 160000", 80000), ("half of 400*400", 80000), ("1/2 of 400x400", 80000), ("50% of 160,000", 80000),
    ("about 1/e", 1 / math.e), ("1/e", 1 / math.e), ("e^-1", 1 / math.e), ("1/e ≈ 0.37", 0.37), ("0.37 ≈ 1/e", 1 / math.e),
    ("(25, 25)", 25), ("25 rows and 25 columns", 25), ("(13, 13)", 13), ("a 13 by 13 square", 13), ("13px wide", 13)])
def test_a_number_is_read_apart_from_its_working(text, want):
    "A number first, then a colon or a dash and words, is the answer with its working; 'X instead of Y', 'replaced by X', 'rounded up to X', a factor after a number, 'half of Y', e, a square's two sides."
    assert C.numbers_in(text) == [pytest.approx(want)], (text, C.numbers_in(text))

@pytest.mark.parametrize("text,kind", [("10 – 20 epochs", "range"), ("1.9 – 2.1", "range"), ("3 to 5", "range"), ("an eighth", "number"), ("2 times smaller", "number")])
def test_working_rules_leave_ranges_and_factors_alone(text, kind):
    assert C._reading(text)[1] == kind, (text, C._reading(text))
    assert C.numbers_in("an eighth") == [0.125] and C.numbers_in("two times smaller") == [2] and C.numbers_in("1e-3") == [0.001] and C.numbers_in("e") == []

def test_of_two_options_a_negated_one_means_the_other_and_a_denied_one_is_not_named():
    opts = {"loss": ["loss function"], "metric": ["error rate", "accuracy"]}
    for a in ("not the metric", "the loss; the metric isn't differentiable", "the loss; the error rate can't be used", "the loss not the metric",
              "the loss, not the metric", "the metric is not differentiable, so the loss", "the loss, because the metric has no gradient"):
        assert C.pick(opts, a) == "loss", (a, C.pick(opts, a))
    for a in ("neither the loss nor the metric", "not the loss and not the metric"): assert C.pick(opts, a) is None, a
    assert C.pick({**opts, "both": []}, "not the metric") is None  # of three, a negated one doesn't say which
    assert C.pick({"random": [], "latest": []}, "not random") == "latest"

def test_a_count_reads_a_percentage_as_its_share_only():
    exercise("99.count", number=True, percent=False, digest=answer_digest("99.count", 8))
    exercise("99.share", number=True, digest=answer_digest("99.share", 8))
    try:
        assert not check("99.count", "8%").ok and not check("99.count", "8 percent").ok and not check("99.count", "eight percent").ok and check("99.count", "8").ok
        assert check("99.share", "8%").ok  # "what percentage": 8% may mean 8
    finally: [exercises.pop(k) for k in ("99.count", "99.share")]

@pytest.mark.parametrize("text", ["log 8", "tanh 2.2", "8 (or 3)", "the sigmoid of 2"])
def test_a_function_of_a_number_or_a_hedge_is_no_number(text): assert C.numbers_in(text) == [], (text, C.numbers_in(text))

def test_a_plain_number_question_takes_a_number_or_arithmetic_and_nothing_beside_it():
    exercise("99.plain", number=True, plain=True, percent=False, units=("symbols",), digest=answer_digest("99.plain", 8))
    try:
        for a in ("8", "eight", "8 symbols", "2^3", "2 cubed", "2 x 4 = 8", "about 8"): assert check("99.plain", a).ok, a
        assert check("99.plain", "8 (2^3)").ok and check("99.plain", "≈ 8").ok and check("99.plain", "32 x .25").ok
        for a in ("8, or maybe 3", "8 bits", "h = 8", "8 (it was 3 before)", "2 x 3 = 8", "among 8", "7.9 ≈ 8", "800%", "8 (2^4)", "8 before, 0 after", "8, i.e. 3 bits"):
            r = check("99.plain", a)
            assert not r.ok and ("number alone" in r.message or "arithmetic" in r.message), (a, r)
    finally: exercises.pop("99.plain")

def test_an_option_said_to_be_included_in_another_is_not_named_apart():
    opts = {"all": ["all three", "all of them"], "fastai": [], "PyTorch": []}
    for a in ("all three, including fastai", "in all three, fastai included", "all of them, even fastai", "all three, fastai too"):
        assert C.pick(opts, a) == "all", (a, C.pick(opts, a))
    assert C.pick(opts, "even fastai") == "fastai" and C.pick(opts, "PyTorch and fastai") is None

@pytest.mark.parametrize("id,answer", [
    ("01.q_frozen_head", "512*37 + 37"), ("01.q_frozen_head", "(512+1)*37"), ("01.q_train_size", "300 - 60"), ("01.q_epochs", "3 + 1"),
    ("02.q_batches", "193 + 1"), ("02.q_sigmoid0", "1/(1+1)"), ("02.q_sigmoid0", "½"), ("02.q_flat_gradient", "it's zero"),
    ("02.q_flat_gradient", "it's 0"), ("01.q_imagenet_outputs", "A-Z: 26"), ("01.q_imagenet_outputs", "one per letter, 26"),
    ("01.q_updates", "15 per epoch, 45 in all"), ("01.q_updates", "15 × 3"), ("02.q_batch_noise", "roughly halves it"),
    ("02.q_batch_noise", "the error halves"), ("02.q_batch_noise", "reduces it by half"), ("02.q_batch_noise", "cuts it by half"),
    ("02.q_batch_noise", "√4"), ("02.q_batch_noise", "square root of 4"), ("02.q_batch_noise", "1.9 to 2")])
def test_numbers_as_people_work_them_out(id, answer):
    "Plain arithmetic, a result after its working or its label, halving said as a verb, a range whose every number counts."
    C.chapter_exercises(id[:2])
    assert check(id, answer).ok, check(id, answer)

def test_arithmetic_is_evaluated_never_run():
    "Only numbers, + - * / ^, √ and brackets are evaluated: a name is never looked up, and a huge power is refused."
    for text in ("__import__('os').getcwd()", "(1).real", "9^9^9^9", "10^400", "1/0", "(2)(3)", "[1, 2]"):
        assert C.numbers_in(text) in ([], [1.0]), (text, C.numbers_in(text))
    assert C._calc("9^9^9^9") is None and C._calc("1/0") is None and C._calc("(3+1)/2") == 2

@pytest.mark.parametrize("id,answer", [
    ("01.q_weights", "I don't know"), ("01.q_weights", "not sure"), ("01.q_weights", "no idea"), ("01.q_weights", "dunno"),
    ("01.q_feedback", "I don't know"), ("01.q_feedback", "not sure")])
def test_not_knowing_is_no_answer(id, answer):
    "'I don't know' names neither option: it is told to choose, never read as 'no'."
    C.chapter_exercises(id[:2])
    assert C.pick(exercises[id].options, answer) is None
    r = check(id, answer)
    assert r.status == "wrong" and "“yes” or “no”" in r.message and "guess" in r.message, r

def test_yes_no_reads_negation_where_it_stands():
    "A negation after the question's phrase counts, a tag question is not a 'no', a negated phrase of one answer means the other, and a '?' then 'no, X' means X."
    C.chapter_exercises("01"); C.chapter_exercises("03")
    yn = lambda id, a: C.pick(exercises[id].options, a)
    assert yn("01.q_head", "it would not") == "no" and yn("01.q_head", "it would") == "yes" and yn("01.q_head", "it would, not the old one") == "yes"
    assert yn("01.q_weights", "they do change, don't they") == "yes" and yn("01.q_weights", "they don't change, do they?") == "no"
    assert yn("01.q_weights", "no, they stay the same") == yn("01.q_weights", "no they stay the same") == "no"
    assert yn("01.q_weights", "they don't stay the same") == "yes" and yn("01.q_weights", "not sure, but no") == "no"
    assert yn("01.q_feedback", "they can't stay unequal forever") == "yes" and yn("01.q_feedback", "no: the records stay unequal") == "no"
    assert yn("03.q_stop", "doesn't continue") == yn("03.q_stop", "it does not continue") == "yes" and yn("03.q_stop", "it continues") == "no"
    assert yn("03.q_stop", "does it stop? no, it keeps going") == "no"
    for id, answer, means in [("01.q_loss", "the loss? no, the metric", "metric"), ("01.q_overfit", "overfitting? no, underfitting", "underfitting"),
                              ("01.q_split", "the last month? no, random days", "random days"), ("01.q_overfit", "overfitting? yes", "overfitting")]:
        assert yn(id, answer) == means, (id, answer, yn(id, answer))
        assert check(id, answer).ok == (answer.endswith("yes")), check(id, answer)

def test_a_questions_own_phrases_win_and_a_negated_one_means_the_other_answer():
    "Listed phrases come before the `_affirm` rule ('it can run code' is no 'yes'); a negated restatement can be listed, or is read by its negation."
    opts = yes_no(yes=["no change", "won't get the newer one"], no=["change", "changes", "upgrade", "newer", "can run code", "run code", "execute"])
    for a in ("no change", "it won't change", "it doesn't upgrade", "it won't get the newer one", "it does not get the newer one", "yes, not the newer one"):
        assert C.pick(opts, a) == "yes", a
    for a in ("it can run code", "it can execute arbitrary code when loaded", "it changes", "it gets the newer one", "no, the newer one"):
        assert C.pick(opts, a) == "no", a

@pytest.mark.parametrize("answer", ["everywhere except the diagonal", "all except the diagonal", "anywhere but the diagonal", "non-diagonal cells",
                                    "outside of the diagonal", "away from the diagonal", "the anti-diagonal", "the other diagonal", "apart from the diagonal"])
def test_an_option_after_an_exclusion_is_not_named(answer):
    "'everywhere except the diagonal' doesn't name 'diagonal'; nor does 'all except fastai' name 'all'."
    opts = {"diagonal": ["main diagonal", "on the diagonal", "diagonal cells"], "off the diagonal": ["off diagonal"], "first row": ["top row"]}
    assert C.pick(opts, answer) in (None, "off the diagonal"), (answer, C.pick(opts, answer))
    C.chapter_exercises("04")
    assert _rejected("04.q_diagonal", answer)
    assert C.pick({"all": ["all three"], "fastai": [], "PyTorch": []}, "all except fastai") is None
    assert C.pick({"random": [], "latest": []}, "not random, but the latest") == "latest"
