import numpy as np
import pytest
from scipy import stats

from timbrelab.bench.seeds import mean_sd, welch_t


def test_mean_sd_drops_missing_figures_and_says_how_many_remain():
    m = mean_sd([0.5, None, 0.7, float("nan"), 0.6])
    assert m["n"] == 3 and m["values"] == [0.5, 0.7, 0.6]
    assert m["mean"] == pytest.approx(0.6) and m["sd"] == pytest.approx(0.1)  # sample sd (ddof=1)
    assert mean_sd([0.4])["sd"] == 0.0 and mean_sd([])["mean"] is None


def test_welch_t_is_scipys_unequal_variance_t():
    a, b = [0.60, 0.62, 0.56], [0.36, 0.51, 0.44]
    want = stats.ttest_ind(a, b, equal_var=False).statistic
    assert welch_t(mean_sd(a), mean_sd(b)) == pytest.approx(want)
    assert welch_t(mean_sd(b), mean_sd(a)) == pytest.approx(-want)  # the sign says which is higher
    rng = np.random.default_rng(0)
    x, y = rng.normal(0, 1, 5), rng.normal(0.5, 2, 4)
    assert welch_t(mean_sd(x), mean_sd(y)) == pytest.approx(stats.ttest_ind(x, y, equal_var=False).statistic)


def test_welch_t_is_undefined_without_two_values_or_any_spread():
    assert welch_t(mean_sd([0.5]), mean_sd([0.4, 0.6])) is None
    assert welch_t(mean_sd([0.5, 0.5]), mean_sd([0.4, 0.4])) is None
    assert welch_t(mean_sd([0.5, 0.5]), mean_sd([0.3, 0.5])) == pytest.approx(0.1 / np.sqrt(0.02 / 2))  # one side without spread


def test_a_change_cell_shows_the_change_and_its_t():
    from timbrelab.bench.seeds import change_cell

    assert change_cell(0.0843, 5.62) == "+0.084 (5.6)" and change_cell(-0.027, -0.41) == "-0.027 (-0.4)"
    assert change_cell(0.1, None) == "+0.100 (–)"
