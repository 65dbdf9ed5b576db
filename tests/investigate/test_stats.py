import math

import numpy as np

from mlobs.investigate.stats import change_point, first_true, fraction_true, split_means

T = np.arange(0.0, 600.0, 15.0)


def test_the_change_point_of_a_noisy_step_is_where_the_step_is():
    rng = np.random.default_rng(1)
    values = np.where(T >= 300, 0.8, 0.9) + rng.normal(0, 0.01, len(T))
    change = change_point(T, values)
    assert change.at == 300
    assert math.isclose(change.before, 0.9, abs_tol=0.01) and math.isclose(change.after, 0.8, abs_tol=0.01)


def test_a_change_point_ignores_missing_points_and_needs_enough_of_them():
    values = np.where(T >= 300, 2.0, 1.0)
    values[::2] = np.nan
    assert change_point(T, values).at in (300, 315)
    assert change_point(T[:5], values[:5]) is None


def test_split_means_leave_out_the_points_within_the_guard():
    values = np.where(T >= 300, 10.0, 0.0)
    values[(T >= 270) & (T < 330)] = 1000.0
    assert split_means(T, values, 300, guard=30) == (0.0, 10.0)


def test_flags_count_as_a_share_of_points_and_the_first_one_is_found():
    flags = np.where(T >= 450, 1.0, 0.0)
    flags[T == 480] = np.nan
    assert fraction_true(T, flags, 450, 600) == 0.9
    assert first_true(T, flags) == 450
    assert first_true(T, np.zeros(len(T))) is None
