"Tests of `course_lib.grading`: blanking solutions, the clean twins (in sync, no answer in sight, as shipped and filled in), and `course-lib grade`."
import ast, json, os, re, shutil, subprocess, sys
from pathlib import Path

import pytest
from fastcore.nbio import read_nb, write_nb

import course_lib.checks as C
import course_lib.grading as G
from course_lib.checks import ____, chapter_exercises, check, exercises, is_blank
from course_lib.grading import blank_line, blank_source, make_clean, solutions, strip_markers, write_clean

root = Path(__file__).parent.parent
_SOLUTION = r"\s*#\s*SOLUTION\s*$"  # how a line whose answer the clean twin blanks ends
_ANSWER = re.compile(r"^answer = (.+?)" + _SOLUTION, re.M)  # a short answer's line: its value is group 1
chapters = G.chapters(root / "nbs")

# ---- blanking solutions

@pytest.mark.parametrize("line,want", [
    ('    splitter=RandomSplitter(valid_pct=0.2, seed=42),  # SOLUTION', '    splitter=____,'),
    ('    item_tfms=[Resize(size, method="squish")])  # SOLUTION', '    item_tfms=____)'),
    ('x = f(a)[0]  # SOLUTION', 'x = ____'),
    ('  return -p[range(len(t)), t].log().mean()  # SOLUTION', '  return ____'),
    ('answer = (16, 3, 64, 64)  # SOLUTION', 'answer = ____'),
    ('d = {"a": 1})  # SOLUTION', 'd = ____)'),
    ('s = ")(" # SOLUTION', 's = ____'),
    ('do_something()  # SOLUTION', '____'),
    ('if a == b: pass', 'if a == b: pass')])
def test_blank_line(line, want): assert blank_line(line) == want

def test_blank_blocks_and_markers():
    src = "def f(x):\n    # BEGIN SOLUTION\n    y = x * 2\n    return y\n    # END SOLUTION\nz = 3  # SOLUTION"
    assert blank_source(src) == "def f(x):\n    ____\nz = ____"
    assert strip_markers(src) == "def f(x):\n    y = x * 2\n    return y\nz = 3"
    assert solutions(src) == ["y = x * 2", "return y", "z = 3"]
    ns = {"____": ____}
    exec(blank_source(src).replace("z = ____", ""), ns)
    assert is_blank(ns["f"])

def _chapter(cells):
    return {"cells": [dict(cell_type=t, id=f"c{i}", metadata={}, source=s, **({"outputs": [{"output_type": "stream", "name": "stdout", "text": "hi"}], "execution_count": 1} if t == "code" else {}))
                      for i, (t, s) in enumerate(cells)], "metadata": {"kernelspec": {"name": "python3", "display_name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}

FULL = _chapter([("markdown", "# Title\n\n> summary\n\nSome prose."), ("code", "#| default_exp thing"),
            ("markdown", "Just prose, dropped."), ("markdown", "## Section\nprose under it"),
            ("code", "#| export\ndef f(x):\n    return x * 2  # SOLUTION"), ("code", "#| export\n#| hide\nexercise('99.f')"),
            ("markdown", "**Exercise** (`99.f`): write f, all of this stays."), ("code", "check('99.f')")])

def test_make_clean_keeps_headings_code_and_exercises_in_order():
    nb = make_clean(FULL)
    src = {c["id"]: c["source"] for c in nb["cells"]}
    assert list(src) == ["c0", "c3", "c4", "c6", "c7"]  # the full notebook's ids, in its order
    assert src["c0"].startswith("# Title\n\n> **Clean version") and src["c3"] == "## Section"
    assert src["c4"] == "def f(x):\n    return ____" and src["c6"] == FULL["cells"][6]["source"]
    assert all(c.get("outputs", []) == [] for c in nb["cells"])
    assert make_clean(FULL, blank=False)["cells"][2]["source"] == "def f(x):\n    return x * 2"

def test_make_clean_drops_a_heading_left_with_nothing_under_it():
    nb = make_clean(_chapter([("markdown", "# Title\n\nprose"), ("markdown", "## Recap\nprose only"), ("markdown", "## Questionnaire\n**Questionnaire.** Answer each."),
                         ("markdown", "## Section\nprose"), ("markdown", "### Sub\nprose"), ("code", "x = 1"), ("markdown", "## Last\nprose")]))
    heads = [c["source"] for c in nb["cells"] if c["cell_type"] == "markdown"][1:]
    assert heads == ["## Questionnaire\n**Questionnaire.** Answer each.", "## Section", "### Sub", "## Last"]  # "## Recap" had prose only; "## Section" holds "### Sub"

def test_regenerating_never_overwrites_a_learners_edits(tmp_path, capsys):
    full, clean = tmp_path / "01_x.ipynb", tmp_path / "clean" / "01_x.ipynb"
    write_nb(FULL, full)
    assert write_clean(full, clean) == "written" and write_clean(full, clean) == "unchanged"
    nb = read_nb(clean)
    nb.cells[2].outputs = [{"output_type": "stream", "name": "stdout", "text": "ran it"}]  # running cells is no edit
    write_nb(nb, clean)
    assert write_clean(full, clean) == "written"
    nb = read_nb(clean)
    nb.cells[2]["source"] = "def f(x):\n    return x + x"  # the learner's answer
    write_nb(nb, clean)
    mine = clean.read_text()
    assert write_clean(full, clean) == "skipped" and clean.read_text() == mine
    assert G.main(["clean", "--nbs", str(tmp_path)]) == 0 and "kept; --force" in capsys.readouterr().out and clean.read_text() == mine
    assert write_clean(full, clean, force=True) == "written" and "return ____" in clean.read_text()

def test_a_corrupt_twin_is_named_kept_aside_and_regenerated(tmp_path, capsys):
    "A clean twin cut short (an interrupted write) is not a notebook: it is kept as .corrupt, and a good one written."
    full, clean = tmp_path / "01_x.ipynb", tmp_path / "clean" / "01_x.ipynb"
    write_nb(FULL, full)
    write_clean(full, clean)
    broken = clean.read_text()[:200]
    clean.write_text(broken)
    assert G.main(["clean", "--nbs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "regenerated" in out and "kept as 01_x.ipynb.corrupt" in out and len([l for l in out.splitlines() if str(clean) in l]) == 1, out
    assert (tmp_path / "clean" / "01_x.ipynb.corrupt").read_text() == broken  # nothing the learner had is lost
    assert "return ____" in clean.read_text() and write_clean(full, clean) == "unchanged"

def test_writing_a_twin_is_all_or_nothing(tmp_path, monkeypatch):
    "If the write is interrupted before the rename, the old twin is still there, whole, and no temporary file is left."
    full, clean = tmp_path / "01_x.ipynb", tmp_path / "clean" / "01_x.ipynb"
    write_nb(FULL, full)
    write_clean(full, clean)
    before = clean.read_text()
    write_nb({**FULL, "cells": FULL["cells"] + [{"cell_type": "code", "id": "new1", "metadata": {}, "source": "print(1)",
                                                  "outputs": [], "execution_count": None}]}, full)  # the chapter changed
    def interrupted(*a): raise KeyboardInterrupt
    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt): write_clean(full, clean)
    monkeypatch.undo()
    assert clean.read_text() == before and sorted(p.name for p in clean.parent.iterdir()) == ["01_x.ipynb"]

# ---- every chapter's clean twin

@pytest.mark.parametrize("full", chapters, ids=lambda p: p.name)
def test_clean_twin_is_in_sync(full, tmp_path):
    "(d) regenerating the clean notebook from the full one changes nothing committed."
    fresh = tmp_path / full.name
    write_clean(full, fresh)
    assert fresh.read_text() == (root / "nbs" / "clean" / full.name).read_text(), f"run `course-lib clean` and commit nbs/clean/{full.name}"

@pytest.mark.parametrize("full", chapters, ids=lambda p: p.name)
def test_clean_twin_leaks_no_solution(full):
    text = "\n".join(c.source for c in read_nb(root / "nbs" / "clean" / full.name).cells)
    sols = [s for c in read_nb(full).cells if c.cell_type == "code" for s in solutions(c.source)]
    assert sols, f"{full.name} marks no solutions"
    leaked = [s for s in sols if s in text]
    assert not leaked, f"the clean notebook shows solution text: {leaked}"

# ---- the full chapters: answers and hidden cells collapsed in Jupyter and Colab

_keys = ("jupyter", "cellView")  # what `collapse` sets: JupyterLab's source_hidden, Colab's form view

def _answered_by(cells, n) -> list:
    "The exercises a solution in cell `n` answers: the ones it checks, else the ones the next check below it does."
    return next((ids for c in cells[n:] if c.cell_type == "code" and (ids := G._check_call.findall(c.source))), [])

@pytest.mark.parametrize("full", chapters, ids=lambda p: p.name)
def test_answers_and_hidden_cells_are_collapsed(full):
    "Every `#| hide` cell and every questionnaire or apply-it solution opens collapsed, and no other cell does."
    nb = read_nb(full)
    chapter_exercises(full.name[:2])
    def answer(n, c):
        return bool(solutions(c.source)) and any((e := exercises.get(i)) and (e.digest is not None or e.apply) for i in _answered_by(nb.cells, n))
    hide = [n for n, c in enumerate(nb.cells) if c.cell_type == "code" and re.search(r"^\s*#\s*\|\s*hide\s*$", c.source, re.M)]
    answers = [n for n, c in enumerate(nb.cells) if c.cell_type == "code" and n not in hide and answer(n, c)]
    lessons = [n for n, c in enumerate(nb.cells) if c.cell_type == "code" and solutions(c.source) and n not in hide + answers]
    assert hide and answers and lessons, f"{full.name}: hidden {hide}, answers {answers}, lessons {lessons}"
    want = sorted(hide + answers)
    got = [n for n, c in enumerate(nb.cells) if c.metadata.get("jupyter", {}).get("source_hidden")]
    assert got == want, f"run `course-lib clean`: collapsed {got}, should be {want}"
    assert [n for n, c in enumerate(nb.cells) if c.metadata.get("cellView") == "form"] == want
    assert not [n for n, c in enumerate(nb.cells) if set(_keys) & c.metadata.keys() and n not in want]
    assert G.to_collapse(nb) == want

def test_no_collapsed_cell_opens_with_its_answer():
    "JupyterLab shows a collapsed cell's first line (tests/site/test_jupyterlab.py): that line must hold no solution."
    shown = [f"{full.name} cell {n}: {c.source.splitlines()[0]}" for full in chapters for n, c in enumerate(read_nb(full).cells)
             if c.metadata.get("jupyter", {}).get("source_hidden") and c.source.strip() and solutions(c.source.splitlines()[0])]
    assert not shown, "\n".join(shown)

@pytest.mark.parametrize("full", chapters, ids=lambda p: p.name)
def test_collapse_is_idempotent_and_changes_no_source(full, tmp_path):
    import copy
    nb = json.loads(full.read_text())
    once = G.collapse(copy.deepcopy(nb))
    assert G.collapse(copy.deepcopy(once)) == once
    rest = lambda nb: [{**c, "metadata": {k: v for k, v in c["metadata"].items() if k not in _keys}} for c in nb["cells"]]
    assert rest(once) == rest(nb) and once["metadata"] == nb["metadata"]  # sources, outputs, everything else as it was
    # a cell that stops being hidden opens again: collapse every cell, then `course-lib clean`'s writer
    messy = copy.deepcopy(nb)
    for c in messy["cells"]: c["metadata"] |= {"jupyter": {"source_hidden": True}, "cellView": "form"}
    f = tmp_path / full.name
    write_nb(messy, f)
    assert G.write_collapsed(f) == "written" and f.read_text() == full.read_text(), f"run `course-lib clean`: {full.name} is not as it writes it"
    assert G.write_collapsed(f) == "unchanged"

# ---- no answer in sight: what the twin blanks appears in no twin, hint or message

def _squash(s:str) -> str: return re.sub(r"\s+", "", s)

def _answers(src:str) -> list[str]:
    "What the clean twin hides of cell `src`: each solution block's lines, and the part of each `# SOLUTION` line that becomes ____."
    out = []
    for sol in solutions(src):
        line = next((l for l in src.splitlines() if l.strip().startswith(sol) and re.search(_SOLUTION, l)), None)
        if line is None: out.append(sol); continue  # a line of a BEGIN/END SOLUTION block: all of it is hidden
        code, blanked = re.sub(_SOLUTION, "", line), blank_line(line)
        i = blanked.index("____")
        out.append(code[i:len(code) - (len(blanked) - i - 4)])
    return out

def _shared(answer:str, text:str) -> str:
    "The longest run of `answer`'s characters that `text` contains (both without whitespace)."
    from difflib import SequenceMatcher
    a, t = _squash(answer), _squash(text)
    m = SequenceMatcher(None, a, t, autojunk=False).find_longest_match(0, len(a), 0, len(t))
    return a[m.a:m.a + m.size]

def _gives_away(answer:str, text:str) -> bool:
    "Whether `text` shows `answer`: 60% of it in one run (12 characters at least), or all of a shorter one (6 or more)."
    n = len(_squash(answer))
    return n >= 6 and len(_shared(answer, text)) >= (n if n < 12 else max(12, 0.6 * n))

def _strings(py:Path) -> list[str]:
    "Every string literal in a module, f-strings' text included: where its messages and hints come from."
    import ast
    return [n.value for n in ast.walk(ast.parse(py.read_text())) if isinstance(n, ast.Constant) and isinstance(n.value, str)]

@pytest.mark.parametrize("full", chapters, ids=lambda p: p.name)
def test_no_answer_in_sight(full):
    "No clean twin, hint, message source or message given for a known-wrong answer shows what the twin blanks."
    answers = [a for c in read_nb(full).cells if c.cell_type == "code" for a in _answers(c.source)]
    ids = chapter_exercises(full.name[:2])
    twin = "\n".join(c.source for c in read_nb(root / "nbs" / "clean" / full.name).cells)
    places = {f"the hint of {id}": exercises[id].hint for id in ids}
    places |= {f"a string in exercises/ch{full.stem}.py": s for s in _strings(root / "course_lib" / "exercises" / f"ch{full.stem}.py")}
    places |= {f"the message for a wrong answer to {id}": C._verdict(exercises[id], w).message.replace(repr(w), "")  # its own echo aside
               for id in ids for w in exercises[id].wrong}
    leaks = [f"{where} shows {_shared(a, text)!r} of the answer {a!r}" for a in answers for where, text in places.items()
             if _gives_away(a, text)]
    # a one-word answer to the questionnaire is a word the lesson's code uses, or one of the choices its question offers:
    # the twin is searched for the code answers
    leaks += [f"the clean twin shows {_shared(a, twin)!r} of the answer {a!r}" for a in answers
              if not re.fullmatch(r"[\"'][\w ]+[\"']", a) and _gives_away(a, twin)]
    assert not leaks, "\n".join(leaks)

# ---- no answer in sight, second pass: what the twin says and prints, and earlier cells that already hold a solution

def _questionnaire(full) -> dict:
    "Each questionnaire exercise of chapter `full` and its answer, read off its `answer = …  # SOLUTION` line."
    import ast
    out = {}
    for c in read_nb(full).cells:
        m, i = _ANSWER.search(c.source), re.search(r"""check\(["'](\d\d\.q_\w+)""", c.source)
        if c.cell_type == "code" and m and i: out[i[1]] = ast.literal_eval(m[1])
    return out

def _stated(question:str, answer) -> list:
    """How `answer` would be written in a line of code, a comment or an output. None for a choice the question itself
    offers ("yes"/"no", "loss" or "metric"): those words are everywhere in a lesson, so those questions are written
    not to be answered by a line of it (a reviewer's job, not this scan's)."""
    if isinstance(answer, str): return [] if re.search(rf"""["']{re.escape(answer)}["']""", question) else [answer]
    if isinstance(answer, tuple): return [str(answer), str(answer)[1:-1], "×".join(map(str, answer))]
    forms = {str(answer), f"{answer:g}", f"{answer:,}"} | ({f"{answer:.0e}", f"{answer:.0e}".replace("e-0", "e-")} if isinstance(answer, float) else set())
    return [f for f in forms if len(f) > 1]  # a one-digit number is in every other line

def _said(answer_forms:list, text:str) -> str|None:
    "The part of `text` (with some context) that states one of `answer_forms`, as a whole number or word."
    for f in answer_forms:
        if m := re.search(rf"(?<![\w.,×:]){re.escape(f)}(?![\w×:]|[.,]\d)", text, re.I):  # "00:26" is a time, not 26
            return text[max(0, m.start() - 40):m.end() + 20]

def _learner_sees(twin) -> list:
    "(where, text) for every comment and string (docstrings, labels, titles, printed text) in the twin's code cells, checks aside."
    import ast, io, tokenize
    out = []
    for i, c in enumerate(read_nb(twin).cells):
        if c.cell_type != "code" or _check_call_re.search(c.source): continue
        out += [(f"a comment in cell {i}", t.string) for t in tokenize.generate_tokens(io.StringIO(c.source).readline) if t.type == tokenize.COMMENT]
        out += [(f"a string in cell {i}", n.value) for n in ast.walk(ast.parse(c.source)) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return out

_check_call_re = re.compile(r"""\bcheck\(\s*["']\d\d\.""")

def _outputs(cells, keep=lambda c: True) -> list:
    "(where, text) for what the code cells printed or displayed as text, matplotlib's figure reprs, progress bars and the count `progress()` gives aside."
    out = []
    for i, c in enumerate(cells):
        if c.cell_type != "code" or _check_call_re.search(c.source) or c.source.strip() == "progress()" or not keep(c): continue  # progress counts exercises: "25 of 25" answers nothing
        for o in c.get("outputs", []):
            t = o.get("text") or o.get("data", {}).get("text/plain", "")
            t = re.sub(r"<Figure size [^>]*>", "", "".join(t) if isinstance(t, list) else t)
            t = re.sub(r"\d+\.\d+% \[\d+/\d+[^\]]*\]", "", t)  # a progress bar's "[32/40 00:00<00:00]" counts batches, it states nothing
            if t.strip(): out.append((f"the output of cell {i}", t))
    return out

def _stated_answers(full, places) -> list[str]:
    "Each questionnaire answer of `full` that one of `places` states."
    asks = [c.source for c in read_nb(full).cells if c.cell_type == "code" and "answer =" in c.source]
    found = []
    for id, answer in _questionnaire(full).items():
        question = next(s for s in asks if f'check("{id}"' in s)
        forms = _stated(question.split("answer =")[0], answer)
        found += [f"{where} states {id}'s answer {answer!r}: …{said!r}…" for where, text in places if (said := _said(forms, text))]
    return found

@pytest.mark.parametrize("full", chapters, ids=lambda p: p.name)
def test_no_question_contains_its_answer(full):
    "A question may offer its answer among choices (\"yes\" or \"no\"), never state it (`fastai==2.8.12 … which version?`)."
    asks = [c.source for c in read_nb(full).cells if c.cell_type == "code" and "answer =" in c.source]
    found = []
    for id, answer in _questionnaire(full).items():
        question = next(s for s in asks if f'check("{id}"' in s).split("answer =")[0]
        if said := _said(_stated(question, answer), question): found.append(f"{id}'s question states its answer {answer!r}: …{said!r}…")
    assert not found, "\n".join(found)

@pytest.mark.parametrize("full", chapters, ids=lambda p: p.name)
def test_no_questionnaire_answer_in_what_the_twin_says_or_prints(full):
    """No comment, string or output of the clean twin states a questionnaire answer, nor does the question's own hint
    or its message for a known-wrong answer. The outputs are the full chapter's
    stored ones of the cells the twin keeps as they are (the twin run as shipped prints those: its blanks get the
    course's versions); `test_clean_as_shipped` scans the twin's own run."""
    twin = root / "nbs" / "clean" / full.name
    kept = {c.source for c in read_nb(twin).cells}
    places = _learner_sees(twin) + _outputs(read_nb(full).cells, keep=lambda c: c.source in kept)
    found = _stated_answers(full, places)
    asks = [c.source for c in read_nb(full).cells if c.cell_type == "code" and "answer =" in c.source]
    chapter_exercises(full.name[:2])  # imports the chapter's exercises
    for id, answer in _questionnaire(full).items():  # its own hint and messages (0.5 or 0.01 in another's is a coincidence)
        forms = _stated(next(s for s in asks if f'check("{id}"' in s).split("answer =")[0], answer)
        texts = [("its hint", exercises[id].hint or "")] + [("its message for " + repr(w), C._verdict(exercises[id], w).message.replace(repr(w), "")) for w in exercises[id].wrong]
        found += [f"{where} states {id}'s answer {answer!r}: …{said!r}…" for where, text in texts if (said := _said(forms, text))]
    assert not found, "\n".join(found)

def test_yes_no_questions_are_not_passed_by_always_saying_one_word():
    "A learner who answers every yes/no question of the course with the same word gets at most 70% of them right."
    answers = [a for full in chapters for a in _questionnaire(full).values() if a in ("yes", "no")]
    assert len(answers) >= 6 and max(answers.count("yes"), answers.count("no")) <= 0.7 * len(answers), answers

# what a line of the twin said that gave a yes/no answer away (a choice answer is not scanned for above): none may come back
RESTATED = {"04.q_valid_aug": ["never augmented", "not augmented"], "04.q_pickle": ["can run any code", "runs any code"],
            "03.q_validation": ["only watches the training loss"], "01.q_weights": ["predicting doesn't change", "never change the weights"]}

@pytest.mark.parametrize("full", chapters, ids=lambda p: p.name)
def test_no_yes_no_answer_restated_in_the_twin(full):
    twin = root / "nbs" / "clean" / full.name
    kept = {c.source for c in read_nb(twin).cells}
    places = _learner_sees(twin) + _outputs(read_nb(full).cells, keep=lambda c: c.source in kept)
    chapter_exercises(full.name[:2])
    places += [(f"the hint of {id}", exercises[id].hint) for id in RESTATED if id in exercises and id[:2] == full.name[:2]]
    found = [f"{where} restates {id}'s answer: {p!r}" for id, phrases in RESTATED.items() if id[:2] == full.name[:2]
             for where, text in places for p in phrases if p in text.lower()]
    assert not found, "\n".join(found)

def _shape(code:str) -> list[str]:
    """`code`'s tokens with names abstracted: any variable is `N`, `self.` and `.data` are dropped (they don't change
    what a line computes), attributes and functions keep their names: `p.data -= p.grad * lr` and
    `p.data -= p.grad.data * self.lr` have one shape."""
    import io, keyword, tokenize
    try: toks = [t for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type in (tokenize.NAME, tokenize.OP, tokenize.NUMBER, tokenize.STRING)]
    except (tokenize.TokenError, IndentationError, SyntaxError): return []
    out, i = [], 0
    while i < len(toks):
        s = toks[i].string
        if s == "self" and i + 1 < len(toks) and toks[i + 1].string == ".": i += 2; continue
        if s == "." and i + 1 < len(toks) and toks[i + 1].string == "data": i += 2; continue
        after_dot = bool(out) and out[-1] == "."
        out.append("N" if toks[i].type == tokenize.NAME and not after_dot and not keyword.iskeyword(s) and s not in _api else s)
        i += 1
    return out

_api = {"torch", "F", "nn", "np", "math", "fv", "sum", "len", "max", "min", "range", "zip", "float", "int", "abs"}

def _holds(line:list, answer:list) -> bool: return any(line[i:i + len(answer)] == answer for i in range(len(line) - len(answer) + 1))

@pytest.mark.parametrize("full", chapters, ids=lambda p: p.name)
def test_no_cell_of_the_twin_already_holds_a_solution(full):
    """No line of the clean twin above a blank computes what the blank hides, whatever its variables are called: the
    twin must not be passable by copying a line a learner has already passed."""
    twin = [c.source for c in read_nb(root / "nbs" / "clean" / full.name).cells if c.cell_type == "code"]
    found = []
    for c in read_nb(full).cells:
        if c.cell_type != "code" or not solutions(c.source): continue
        bare = lambda src: "\n".join(l for l in src.splitlines() if not l.startswith("#|")).strip()  # the twin drops directives
        above = twin[:[bare(t) for t in twin].index(bare(blank_source(c.source)))]
        for answer in _answers(c.source):
            shape = _shape(answer.strip())
            if len(shape) < 5 or re.fullmatch(r"[\"'].*[\"']", answer.strip()): continue  # too short to tell; questionnaire words are scanned above
            found += [f"{line.strip()!r} computes the answer {answer.strip()!r}" for src in above if "____" not in src
                      for line in src.splitlines() if _holds(_shape(line.split("#")[0].strip()), shape)]
    assert not found, "\n".join(found)

_safe_calls = {"torch", "F", "nn", "math", "sum", "len", "max", "min", "abs", "range", "float", "int", "list", "tuple", "zip", "enumerate"}

def _expressions(code:str, n_names:int, known:set):
    """Each expression in `code` that reads exactly `n_names` names of its own (neither known globals nor bound inside it),
    and calls nothing but their methods and `_safe_calls`: (the expression, those names)."""
    import ast
    try: tree = ast.parse(code)
    except SyntaxError: return
    for node in ast.walk(tree):
        if not isinstance(node, ast.expr) or isinstance(node, (ast.Name, ast.Constant, ast.Lambda)): continue
        inner = list(ast.walk(node))
        bound = {n.id for n in inner if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        names = list(dict.fromkeys(n.id for n in inner if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in known | bound))
        def root(f):  # whose function or method a call calls: a name, or None for a method of a computed value
            while isinstance(f, (ast.Attribute, ast.Subscript, ast.Call)): f = f.func if isinstance(f, ast.Call) else f.value
            return f.id if isinstance(f, ast.Name) else None
        if len(names) == n_names and all(root(c.func) in set(names) | _safe_calls | bound | {None} for c in inner if isinstance(c, ast.Call)):
            yield node, names

def _as_function(node, names, order, params, glob):
    "Expression `node` as a function of `params`, its own `names` renamed to those of `order` (a permutation of `params`)."
    import ast, copy
    class Rename(ast.NodeTransformer):
        def visit_Name(self, n): return ast.copy_location(ast.Name(order[names.index(n.id)], n.ctx), n) if n.id in names else n
    body = Rename().visit(copy.deepcopy(node))
    fn = ast.Expression(ast.Lambda(ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in params], kwonlyargs=[], kw_defaults=[], defaults=[]), body))
    return eval(compile(ast.fix_missing_locations(fn), "<twin>", "eval"), glob)

@pytest.mark.parametrize("full", chapters, ids=lambda p: p.name)
def test_no_expression_above_a_blank_is_an_accepted_answer(full):
    """Where a blank is a function's whole return value (a dozen tokens or more), no expression in the twin above it passes the function's check,
    its variables renamed to the function's arguments in any order: an accepted answer can't stand in sight in another
    form (`((preds > 0.0).float() == train_y).float().mean()` above `batch_accuracy`)."""
    import ast, builtins, importlib, itertools
    import course_lib.checks as C
    twin = [c.source for c in read_nb(root / "nbs" / "clean" / full.name).cells if c.cell_type == "code"]
    bare = lambda src: "\n".join(l for l in src.splitlines() if not l.startswith("#|")).strip()
    glob = vars(importlib.import_module(f"course_lib.exercises.ch{full.stem}"))
    known = set(dir(builtins)) | set(glob)
    found = []
    for c in read_nb(full).cells:
        if c.cell_type != "code" or not (m := re.search(r"^def (\w+)\((.*)\).*:\n(?:.*\n)*?\s+return .*?" + _SOLUTION, c.source, re.M)): continue
        id = next((i for i in chapter_exercises(full.name[:2]) if exercises[i].name == m[1]), None)
        if id is None: continue
        if len(_shape(re.search(r"return (.*?)" + _SOLUTION, c.source, re.M)[1])) < 12: continue  # `(z > 0).float()`: an idiom any chapter repeats, not a computation to copy
        params = [a.arg for a in ast.parse(f"def f({m[2]}): pass").body[0].args.args]
        above = twin[:[bare(t) for t in twin].index(bare(blank_source(c.source)))]
        for src in above:
            for node, names in _expressions(src, len(params), known):
                for order in itertools.permutations(params):
                    try: fn = _as_function(node, names, order, params, glob)
                    except Exception: continue
                    if C._verdict(exercises[id], fn).ok: found.append(f"{ast.unparse(node)!r} passes {id}")
    assert not found, "\n".join(found)

# ---- apply-it exercises: the chapter's idea on a case it didn't show, so retyping the chapter can't pass them

def _exercise_cells(cells, id) -> range:
    "Positions of exercise `id`'s cells: from its statement (**Exercise** (`id`)) to its check."
    start = next(i for i, c in enumerate(cells) if c.cell_type == "markdown" and f"(`{id}`)" in c.source)
    end = next(i for i, c in enumerate(cells) if c.cell_type == "code" and re.search(rf"""check\(\s*["']{re.escape(id)}["']""", c.source))
    return range(start, end + 1)

def _chapter_modules(upto:str) -> list:
    "The modules chapters up to `upto` (\"03\") export, by their `#| default_exp`."
    import importlib
    mods = [re.search(r"#\|\s*default_exp\s+(\S+)", "\n".join(c.source for c in read_nb(f).cells))[1] for f in chapters if f.name[:2] <= upto]
    return [importlib.import_module(f"course_lib.{m}") for m in mods]

@pytest.mark.parametrize("full", chapters, ids=lambda p: p.name)
def test_apply_it_exercises_are_not_passed_by_retyping_the_chapter(full):
    """Every chapter has at least three apply-it exercises. None of their accepted answers is shown by the chapter's
    teaching cells (every code cell a reader sees outside the exercise itself, whatever its variables are called, and
    what those cells print), and no function the chapters so far export passes their checks."""
    import inspect
    import course_lib.checks as C
    ch, cells = full.name[:2], read_nb(full).cells
    ids = [i for i in chapter_exercises(ch) if exercises[i].apply]
    assert len(ids) >= 3, f"{full.name} has {len(ids)} apply-it exercises: {ids}"
    own = {i for id in ids for i in _exercise_cells(cells, id)}
    teaching = [c for i, c in enumerate(cells) if c.cell_type == "code" and i not in own and "hide" not in G._directives(c.source)]
    shown = [_shape(l.split("#")[0].strip()) for c in teaching for l in c.source.splitlines()]
    printed = _outputs(teaching)
    funcs = [f for m in _chapter_modules(ch) for _, f in inspect.getmembers(m, inspect.isfunction) if f.__module__ == m.__name__]
    assert funcs, f"no exported functions found for chapters up to {ch}"
    found = []
    for id in ids:
        code = [cells[i].source for i in _exercise_cells(cells, id) if cells[i].cell_type == "code"]
        sols = [s for src in code for s in solutions(src)]
        assert sols, f"{id} marks no solution"
        if exercises[id].digest is not None:  # a short answer: the chapter's code and outputs don't state it
            ask = next(src for src in code if _ANSWER.search(src))
            answer = ast.literal_eval(_ANSWER.search(ask)[1])
            forms = _stated(ask.split("answer =")[0], answer)  # a choice the question offers is a word any lesson uses
            found += [f"{id}: {where} states its answer {answer!r}: …{said!r}…"
                      for where, text in [(f"teaching cell {i}", c.source) for i, c in enumerate(teaching)] + printed if (said := _said(forms, text))]
            continue
        for s in sols:
            shape = _shape(s)
            if len(shape) < 8: continue  # `n = len(vocab)`, `start, low, end = moms`: too short to be an answer alone
            found += [f"{id}: the chapter shows {s!r}" for line in shown if _holds(line, shape)]
        found += [f"{id}: the chapter's own {f.__module__}.{f.__name__} passes its check" for f in funcs if C._verdict(exercises[id], f).ok]
    assert not found, "\n".join(found)

@pytest.mark.parametrize("full", chapters, ids=lambda p: p.name)
def test_clean_twin_asks_to_predict_then_run(full):
    "Each chapter asks at least once for a guess before an output, and its clean twin keeps the prompt."
    twin = read_nb(root / "nbs" / "clean" / full.name).cells
    assert any(c.cell_type == "markdown" and "**Predict, then run.**" in c.source for c in twin), full.name

def _filled(full, dest):
    "The clean notebook with the solutions put back: what a learner who got everything right has."
    nb = make_clean(read_nb(full), blank=False)
    write_nb(nb, dest)
    return dest

@pytest.mark.twin_runs
@pytest.mark.parametrize("full", chapters, ids=lambda p: p.name)
def test_clean_as_shipped(full, monkeypatch):
    """(b) as shipped: every check of the chapter 'Not attempted', no cell raises (Jupyter's and Colab's Run all stop at
    the first that does, a blank's BlankError included), and nothing it prints states a questionnaire answer.
    Graded in this process (`_grade_here`): the twins are under test here; the grading process of its own is tested below."""
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    twin = root / "nbs" / "clean" / full.name
    shipped = G._grade_here(twin, cell_timeout=300, nb=(ran := read_nb(twin)))
    assert shipped.results and {r.status for r in shipped.results.values()} == {"blank"}, shipped
    assert set(shipped.results) == set(chapter_exercises(full.name[:2])) and not shipped.errors, shipped
    stops = [(i, "".join(c.source.splitlines(True)[:3])) for i, c in enumerate(ran.cells)
             if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert not stops, (f"{full.name}: Run all (Jupyter, Colab) stops at the first cell that raises, a blank's BlankError too; "
                       f"these cells raise as shipped: {stops}")
    found = _stated_answers(full, _outputs(ran.cells))  # what the twin itself printed, run as a learner first runs it
    assert not found, "\n".join(found)

quickest = root / "nbs" / "03_lr_find.ipynb"  # the chapter that runs in the fewest seconds

@pytest.mark.parametrize("full", chapters, ids=lambda p: p.name)
def test_filled_twin_is_the_full_notebook_less_its_exercise_cells(full):
    """(c) for every chapter, without running it again: filled in, a twin is its chapter's code less the hidden cells,
    which only define exercises, check what the prose says of an output, or set PyTorch's CPU threads (no visible cell uses what they define), and
    it checks every exercise of the chapter. So the full notebook's run (tests/test_notebooks.py), which must pass every
    check, is the filled twin's run."""
    cells = [c for c in read_nb(full).cells if c.cell_type == "code"]
    hidden = [c.source for c in cells if "hide" in G._directives(c.source)]
    setup = [s for s in hidden if re.fullmatch(r"#\| hide\n(_n_threads = cpu_threads\(1\).*|cpu_threads\(_n_threads\);)", s)]  # plumbing kept out of sight
    prose_checks = [s for s in hidden if not s.startswith("#| export") and s not in setup]
    assert all(re.match(r"#\| export exercises\.ch\d\d_\w+\n", s) for s in hidden if s not in prose_checks + setup), f"{full.name}: a hidden export that isn't an exercise cell"
    for s in prose_checks:  # `#| hide` then asserts, with names of their own (underscored): nothing a later cell relies on
        if re.fullmatch(r"#\| hide\n(#.*\n|from course_lib\.grading import try_forms\n)*try_forms\((.|\n)*\)", s): continue  # the forms beside a question: calls that assert, binding nothing
        assert s.startswith("#| hide\n") and "assert " in s, f"{full.name}: a hidden cell that neither defines exercises nor checks the prose: {s[:80]!r}"
        names = set(re.findall(r"^\s*([A-Za-z_][\w, ]*?)\s*=[^=]", s, re.M))
        assert all(n.strip().startswith("_") for ns in names for n in ns.split(",")), f"{full.name}: a prose check binds a visible name: {s[:80]!r}"
    defined = {n for s in hidden for n in re.findall(r"^(?:def |class )?([A-Za-z_]\w*)\s*(?:\(|=[^=]|:)", s, re.M)}
    visible = "\n".join(c["source"] for c in make_clean(read_nb(full), blank=False)["cells"] if c["cell_type"] == "code")
    used = {n for n in defined if n.startswith("_") and re.search(rf"\b{n}\b", visible)}
    assert not used, f"{full.name}: visible cells use {sorted(used)}, which only hidden cells define: the twin would lack them"
    checked = set(re.findall(r"""check\(\s*["'](\d\d\.\w+)["']""", visible))
    assert checked == set(chapter_exercises(full.name[:2])), f"{full.name}: checked {sorted(checked)}"

@pytest.mark.twin_runs
def test_clean_filled_in(tmp_path, monkeypatch):
    "(c) once for real, through the grader: a twin filled in with the solutions has every check of its chapter correct."
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    filled = G._grade_here(_filled(quickest, tmp_path / quickest.name), cell_timeout=300)
    assert filled.ok and set(filled.results) == set(chapter_exercises(quickest.name[:2])), filled

@pytest.mark.twin_runs
def test_grade_command_outside_the_repo(tmp_path):
    "(c) again as a learner's or teacher's machine runs it: course_lib installed, no repository on disk, no network."
    site, work = tmp_path / "site", tmp_path / "work"
    shutil.copytree(root / "course_lib", site / "course_lib", ignore=shutil.ignore_patterns("__pycache__"))
    work.mkdir()
    full = quickest
    _filled(full, work / "filled.ipynb")
    env = {**os.environ, "PYTHONPATH": str(site), "COURSE_OFFLINE": "1"}
    prog = ("import sys, course_lib; assert course_lib.__file__.startswith(sys.argv[1]), course_lib.__file__; "
            "from course_lib.grading import main; sys.exit(main(sys.argv[2:]))")
    def run(*args): return subprocess.run([sys.executable, "-c", prog, str(site), "grade", *args], cwd=work, env=env,
                                          capture_output=True, text=True, timeout=600)
    filled = run("filled.ipynb")
    n = len(chapter_exercises(full.name[:2]))
    assert filled.returncode == 0 and f"{n}/{n} exercises correct" in filled.stdout, filled.stdout + filled.stderr

# ---- `course-lib grade` after a plain `pip install` (no dev tools): its one need is an extra, named when missing

def test_grade_needs_only_the_grade_extra():
    "The notebook runner is no dependency (the newest execnb would upgrade Colab's fastcore): the `grade` extra has it."
    import importlib.metadata as md
    reqs = md.requires("course-lib") or []
    assert not [r for r in reqs if r.startswith("execnb") and "extra" not in r], reqs
    assert any(r.startswith("execnb") and 'extra == "grade"' in r for r in reqs), reqs

def test_grade_without_execnb_names_the_extra():
    "Where execnb is missing, `course-lib grade` fails in one line that says what to install, and exits 2."
    code = "import sys; sys.modules['execnb'] = None; from course_lib.grading import main; sys.exit(main(sys.argv[1:]))"
    p = subprocess.run([sys.executable, "-c", code, "grade", str(chapters[0].parent / "clean" / chapters[0].name)],
                       capture_output=True, text=True)
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stderr.strip() == ("course-lib grade: grading runs notebooks with execnb, which is not installed: "
                                "pip install 'course-lib[grade]'"), p.stderr

# ---- grading a class: each notebook in its own process, within time limits, whatever the notebooks do

def _nb(*cells, chapter="01_intro.ipynb"):
    return {"cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "outputs": [], "execution_count": None, "source": s}
                      for i, s in enumerate(("from course_lib.checks import *",) + cells)],
            "metadata": {"course_lib": {"clean_of": chapter}}, "nbformat": 4, "nbformat_minor": 5}

RIGHT, WRONG, CHECK = "def best_weight(c, perf): return max(c, key=perf)", "def best_weight(c, perf): return min(c, key=perf)", 'check("01.best_weight")'

def test_grading_a_class_cannot_be_fooled_or_stalled(tmp_path):
    """A folder of good, wrong, tampering, check-deleting, exiting, looping and broken notebooks: every one gets its row,
    none changes another's result, the batch ends in bounded time, and the CSV and JSON say the same as the report."""
    import csv, time
    cls = tmp_path / "class"
    cls.mkdir()
    notebooks = {"a_tamper": _nb("import course_lib.checks as C\nfor e in C.exercises.values(): e.test = lambda a: None", RIGHT, CHECK),
                 "b_wrong": _nb(WRONG, CHECK),  # graded right after the tampering one: must still be wrong
                 "c_deleted": _nb(WRONG),  # its check cell deleted: the exercise is still expected
                 "d_exit": _nb("import os; os._exit(0)", RIGHT, CHECK),
                 "e_loop": _nb("while True: pass", RIGHT, CHECK),
                 "f_good": _nb(RIGHT, CHECK),
                 # fooling its own grade: every check passes, the digests match anything, `check` says correct
                 "i_tamper_self": _nb("import course_lib.checks as C\nfor e in C.exercises.values(): e.test = lambda a: None\n"
                                      "C.answer_digest = lambda id, a: C.exercises[id].digest", WRONG, CHECK, 'check("01.q_loss", "metric")'),
                 "j_own_check": _nb(WRONG, "check = lambda id, *a: Result(id, 'correct')", CHECK),
                 "k_no_hook": _nb("import course_lib.checks as C; C._observers.clear()", RIGHT, CHECK)}
    for name, nb in notebooks.items(): (cls / f"{name}.ipynb").write_text(json.dumps(nb))
    (cls / "g_cut.ipynb").write_text(json.dumps(notebooks["f_good"])[:60])
    (cls / "h_text.ipynb").write_text("my answers are in the email")
    t = time.monotonic()
    main = "import sys; from course_lib.grading import main; sys.exit(main(sys.argv[1:]))"
    p = subprocess.run([sys.executable, "-c", main, "grade", str(cls), "--cell-timeout", "2", "--timeout", "60",
                        "--csv", str(tmp_path / "class.csv"), "--json", str(tmp_path / "class.json")],
                       capture_output=True, text=True, timeout=300, env={**os.environ, "COURSE_PROGRESS": str(tmp_path / "teacher.json")})
    assert time.monotonic() - t < 120 and p.returncode == 1, p.stdout + p.stderr
    assert not (tmp_path / "teacher.json").exists(), "the students' checks were kept as the teacher's progress"
    assert "Traceback" not in p.stdout + p.stderr
    rows = {Path(r["notebook"]).stem: r for r in csv.DictReader((tmp_path / "class.csv").open())}
    assert list(rows) == [*[k for k in notebooks if k < "g"], "g_cut", "h_text", *[k for k in notebooks if k > "h"]]
    n = len(G.expected_exercises(notebooks["f_good"], cls / "f_good.ipynb"))
    assert n >= 10, "chapter 1 has more exercises than this notebook checks"
    assert rows["b_wrong"]["01.best_weight"] == "wrong" and rows["f_good"]["01.best_weight"] == "correct"
    assert {k: rows[k]["of"] for k in notebooks} == {k: str(n) for k in notebooks}, "every twin of chapter 1 is graded on all its exercises"
    assert rows["c_deleted"]["01.best_weight"] == "not run" and rows["c_deleted"]["correct"] == "0"
    assert rows["f_good"]["correct"] == "1" and float(rows["f_good"]["score"]) == pytest.approx(1 / n, abs=1e-3)
    assert "ended its own process" in rows["d_exit"]["problem"] and rows["d_exit"]["01.best_weight"] == "not run"
    assert "the limit for one cell" in rows["e_loop"]["problem"] or "the limit for a whole notebook" in rows["e_loop"]["problem"]
    assert all("not a readable notebook" in rows[k]["problem"] for k in ("g_cut", "h_text"))
    assert rows["i_tamper_self"]["01.best_weight"] == "wrong" and rows["i_tamper_self"]["01.q_loss"] == "wrong", "tampering fooled its own grade"
    assert rows["j_own_check"]["01.best_weight"] == "not run" and rows["k_no_hook"]["correct"] == "0"
    data = {Path(d["notebook"]).stem: d for d in json.loads((tmp_path / "class.json").read_text())}
    assert data["b_wrong"]["exercises"]["01.best_weight"]["message"].startswith("for candidates")

def test_whole_notebook_time_limit(tmp_path):
    "Cells each within their limit, the notebook over its own: stopped at --timeout, its process group killed."
    import time
    nb = tmp_path / "01_slow.ipynb"
    nb.write_text(json.dumps(_nb(*["import time; time.sleep(2)"] * 10, RIGHT, CHECK)))
    t = time.monotonic()
    r = G.grade(nb, cell_timeout=30, timeout=4)
    assert time.monotonic() - t < 15 and not r.ok
    assert r.problem == "stopped after 4 s, the limit for a whole notebook (--timeout)"
    assert r.results["01.best_weight"].status == "not run"

def test_notebooks_from_files_folders_and_globs(tmp_path):
    for p in ("a/1.ipynb", "a/b/2.ipynb", "a/.ipynb_checkpoints/1-checkpoint.ipynb", "c/3.ipynb", "c/x.txt"):
        (tmp_path / p).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / p).write_text("{}")
    got = G.notebooks([str(tmp_path / "a"), str(tmp_path / "c" / "*.ipynb"), str(tmp_path / "a" / "1.ipynb"), str(tmp_path / "none.ipynb")])
    assert [str(p.relative_to(tmp_path)) for p in got] == ["a/1.ipynb", "a/b/2.ipynb", "c/3.ipynb", "none.ipynb"]


# ---- a class graded from copies: no notebook reaches another, nothing is lost, the verdicts can't be forged

def _grade_class(cls, tmp_path, *extra):
    main = "import sys; from course_lib.grading import main; sys.exit(main(sys.argv[1:]))"
    p = subprocess.run([sys.executable, "-c", main, "grade", str(cls), "--cell-timeout", "30", "--timeout", "120",
                        "--csv", str(tmp_path / "class.csv"), *extra], capture_output=True, text=True, timeout=600)
    import csv
    return p, {Path(r["notebook"]).stem: r for r in csv.DictReader((tmp_path / "class.csv").open())}

def _isolated(): return bool(G.isolation())

def test_forged_reports_are_tampering(tmp_path):
    """A notebook that writes a well-formed report to the grading process's standard output and exits, or writes one down
    every pipe it can find, is reported as tampering and graded on nothing; writing one without exiting is tampering too.
    One printed into a cell's output is just output: the notebook that then exits is graded on what it did."""
    cls = tmp_path / "class"; cls.mkdir()
    every = json.dumps({"results": [[id, "correct", ""] for id in chapter_exercises("01")], "errors": []})
    forge_line = f'"{G._mark}" + {every!r}'
    notebooks = {"a_print_exit": _nb(f"import os, sys; sys.__stdout__.write({forge_line} + '\\n'); sys.__stdout__.flush(); os._exit(0)"),
                 "b_print": _nb(f"import os; os.write(1, ({forge_line} + '\\n').encode())", RIGHT, CHECK),
                 "f_cell_print_exit": _nb(f"import os; print({forge_line}, flush=True); os._exit(0)"),  # the cell's output, not the process's
                 "c_every_pipe": _nb("import os, stat\n"
                                     "for fd in map(int, os.listdir('/proc/self/fd')):\n"
                                     "    try:\n"
                                     "        if stat.S_ISFIFO(os.fstat(fd).st_mode): os.write(fd, (" + forge_line + " + '\\n').encode())\n"
                                     "    except OSError: pass\n"
                                     "os._exit(0)"),
                 "d_swap_writer": _nb("import os, json; json.dumps = lambda *a, **k: " + repr(every) + "; os.write = os.write", WRONG, CHECK),
                 "e_good": _nb(RIGHT, CHECK)}
    for name, nb in notebooks.items(): (cls / f"{name}.ipynb").write_text(json.dumps(nb))
    p, rows = _grade_class(cls, tmp_path)
    for name in ("a_print_exit", "b_print", "c_every_pipe"):
        assert rows[name]["problem"].startswith("tampering") and rows[name]["correct"] == "0", (name, rows[name])
    assert "ended its own process" in rows["f_cell_print_exit"]["problem"] and rows["f_cell_print_exit"]["correct"] == "0"
    assert rows["d_swap_writer"]["01.best_weight"] == "wrong", "replacing json.dumps forged the grader's own report"
    assert rows["e_good"]["01.best_weight"] == "correct" and not rows["e_good"]["problem"]

def test_a_notebook_cannot_reach_its_neighbours(tmp_path):
    """Sabotage and copying: one notebook rewrites its neighbour's file without its checks and writes into the class
    folder, another reads its neighbour's answer. The neighbour is graded on what it submitted, every submitted file is
    byte-identical afterwards, the class folder holds nothing new, and each row carries the file's SHA-256. Where the
    machine allows namespaces (root in CI), the reader finds nothing to read."""
    import hashlib
    cls = tmp_path / "class"; cls.mkdir()
    good, thief = cls / "b_good.ipynb", cls / "c_copy.ipynb"
    saboteur = _nb(f"import json, pathlib\np = pathlib.Path({str(good)!r})\n"
                   "try:\n    nb = json.loads(p.read_text()); nb['cells'] = nb['cells'][:1]; p.write_text(json.dumps(nb))\nexcept OSError: pass\n"
                   f"try: pathlib.Path({str(cls / 'planted.txt')!r}).write_text('x')\nexcept OSError: pass\n"
                   "open('model.pkl', 'w').write('my working file')", WRONG, CHECK)
    copier = _nb(f"try: copied = {str(good)!r} and 'max(c' in open({str(good)!r}).read()\nexcept OSError: copied = False\n"
                 "def best_weight(c, perf): return (max if copied else min)(c, key=perf)", CHECK)
    (cls / "a_sabotage.ipynb").write_text(json.dumps(saboteur))
    good.write_text(json.dumps(_nb(RIGHT, CHECK)))
    thief.write_text(json.dumps(copier))
    before = {f.name: f.read_bytes() for f in cls.iterdir()}
    p, rows = _grade_class(cls, tmp_path)
    assert {f.name: f.read_bytes() for f in cls.iterdir()} == before, "the class folder changed during grading"
    assert rows["b_good"]["01.best_weight"] == "correct", "the saboteur changed its neighbour's result"
    assert all(rows[f[:-6]]["sha256"] == hashlib.sha256(b).hexdigest() for f, b in before.items()), rows
    assert "isolation: " in p.stdout
    if os.geteuid() == 0 and shutil.which("unshare"):  # CI runs as root: there the isolation must hold, not be skipped
        assert _isolated(), "running as root with unshare, yet notebooks were not isolated"
    if _isolated(): assert rows["c_copy"]["01.best_weight"] == "wrong", "the copier read its neighbour's notebook"

def test_a_graded_notebook_cannot_change_the_course_or_python(tmp_path):
    """A notebook that tries to plant a module in `course_lib`'s folder and a file in Python's own prefix is refused with
    'read-only file system' where the machine allows isolation (root with unshare, as in CI): it scores its
    `best_weight` right only if both writes were refused, and neither file exists afterwards."""
    import course_lib, secrets
    if not _isolated():
        if os.geteuid() == 0 and shutil.which("unshare"): pytest.fail("running as root with unshare, yet notebooks were not isolated")
        pytest.skip("this machine doesn't allow the grader's isolation (mount namespaces)")
    tag = secrets.token_hex(6)
    targets = [Path(course_lib.__file__).parent / f"planted_{tag}.py", Path(sys.prefix) / f"planted_{tag}.txt"]
    cls = tmp_path / "class"; cls.mkdir()
    writer = _nb("import errno\nrefused = []\n"
                 f"for t in {[str(t) for t in targets]!r}:\n"
                 "    try: open(t, 'w').write('x = 1'); refused.append(False)\n"
                 "    except OSError as e: refused.append(e.errno == errno.EROFS)\n"
                 "def best_weight(c, perf): return (max if all(refused) else min)(c, key=perf)", CHECK)
    (cls / "a_writer.ipynb").write_text(json.dumps(writer))
    try:
        p, rows = _grade_class(cls, tmp_path)
        planted = [str(t) for t in targets if t.exists()]
        assert not planted, f"a graded notebook wrote into the course or Python: {planted}"
        assert rows["a_writer"]["01.best_weight"] == "correct", ("the writes were not refused as read-only", rows["a_writer"], p.stdout[-500:])
    finally:
        for t in targets: t.unlink(missing_ok=True)

def test_what_a_notebook_writes_is_removed_or_kept_aside(tmp_path):
    "A notebook's working files go to its private folder: removed after grading, or kept with --keep, named by its hash."
    cls = tmp_path / "class"; cls.mkdir()
    (cls / "a.ipynb").write_text(json.dumps(_nb("open('model.pkl', 'w').write('mine')", RIGHT, CHECK)))
    p, rows = _grade_class(cls, tmp_path, "--keep", str(tmp_path / "kept"))
    assert sorted(f.name for f in cls.iterdir()) == ["a.ipynb"]
    kept = tmp_path / "kept" / f"a-{rows['a']['sha256'][:12]}"
    assert (kept / "model.pkl").read_text() == "mine" and (kept / "a.ipynb").is_file(), list((tmp_path / "kept").rglob("*"))

def test_the_courses_own_solution_is_named_not_graded(tmp_path):
    "Passing course_lib's own solution to `check` is reported as such ('copied'), so a teacher reading the CSV knows."
    cls = tmp_path / "class"; cls.mkdir()
    (cls / "a_peek.ipynb").write_text(json.dumps(_nb("import course_lib.bird", 'check("01.best_weight", course_lib.bird.best_weight)')))
    (cls / "b_import.ipynb").write_text(json.dumps(_nb("from course_lib.bird import best_weight", CHECK)))
    (cls / "c_own.ipynb").write_text(json.dumps(_nb(RIGHT, CHECK)))
    p, rows = _grade_class(cls, tmp_path)
    assert rows["a_peek"]["01.best_weight"] == rows["b_import"]["01.best_weight"] == "copied", rows
    assert rows["c_own"]["01.best_weight"] == "correct" and rows["a_peek"]["correct"] == "0"
    assert "course's own solution" in p.stdout

def test_hiding_plan_hides_the_class_never_the_course(tmp_path):
    "The folders of the class are hidden, the course's library, Python and the notebook's own folder never; a name that matched nothing hides nothing."
    import course_lib
    cls, work = tmp_path / "class", tmp_path / "work"
    (cls / "sub").mkdir(parents=True); work.mkdir()
    for f in ("a.ipynb", "sub/b.ipynb"): (cls / f).write_text("{}")
    lib = Path(course_lib.__file__).parent
    dirs, files, ro = G._plan_hiding([cls / "a.ipynb", cls / "sub" / "b.ipynb", tmp_path / "typo" / "c.ipynb", lib / "x.ipynb"], work)
    assert dirs == [str(cls)], dirs  # the outermost folder only, and not the library's
    assert files == []  # none of the names outside the hidden folder is a file: nothing to bind over
    assert str(lib.resolve()) in ro and str(Path(sys.prefix).resolve()) in ro and not any(str(work).startswith(d) for d in dirs)

# ---- whose code is checked: a learner's deleted or broken definition is never Correct

@pytest.mark.parametrize("full", chapters, ids=lambda p: p.name)
def test_a_deleted_or_broken_definition_is_never_correct(full):
    """Every code exercise of the chapter, in its twin as Run all leaves it when the learner's definition cell was deleted
    or raised (the name then holds whatever the twin's imports put there): not Correct, interactively or for the grader;
    nor the course's own answer imported by hand, wrapped, or subclassed; nor, after a skipped exercise, its stand-in."""
    import functools, types
    from course_lib.grading import _judges
    twin = make_clean(read_nb(full), blank=False)
    setup = next(c for c in twin["cells"] if c["cell_type"] == "code" and "from course_lib.checks import *" in c["source"])
    ns = {}
    exec(setup["source"], ns)
    import importlib
    importlib.reload(importlib.import_module(f"course_lib.exercises.ch{full.stem}"))  # as installed: a notebook run in this process may have registered its own
    ids = [id for id in C.chapter_exercises(full.name[:2]) if exercises[id].test is not None and exercises[id].name]
    judges = _judges(ids)
    for id in ids:
        e, ref = exercises[id], C._reference(exercises[id])
        if (held := ns.get(e.name)) is not None:
            assert C._origin(held) != "learner", f"{id}: the twin's imports define `{e.name}` in the notebook itself"
            for verdict in (C._judge(e, held), judges[id](held)):
                assert not verdict.ok, f"{id}: with its definition deleted, `{e.name}` is {held!r} from the twin's imports, and it is Correct"
        if ref is None: continue
        disguised = [ref, functools.partial(ref)] + ([type("Mine", (ref,), {})] if isinstance(ref, type) else [lambda *a, **k: ref(*a, **k)])
        for a in disguised:
            assert C._judge(e, a).status == "copied" and judges[id](a).status == "copied", f"{id}: the course's own answer, as {a!r}, is not named"
        skipped = {"check": check, e.name: types.FunctionType((lambda *a: ____).__code__, {"____": ____})}
        exec(f"r1 = check({id!r}); r2 = check({id!r})", skipped)
        assert skipped["r1"].status == skipped["r2"].status == "blank", f"{id}: a skipped exercise's stand-in is judged {skipped['r2']!r}"
        assert not judges[id](skipped[e.name]).ok, f"{id}: the grader calls the stand-in Correct"
