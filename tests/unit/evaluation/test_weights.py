"""Contributor weights: basis points that always sum to 10000, from lift or from rows."""

from __future__ import annotations

from hokusai.evaluation.weights import WeightMethod, contributor_weights, largest_remainder


def test_largest_remainder_sums_exactly_and_gives_leftovers_to_the_biggest_remainders() -> None:
    assert largest_remainder([1, 1, 1], 10_000) == [3334, 3333, 3333]
    assert largest_remainder([2, 1], 10_000) == [6667, 3333]
    assert sum(largest_remainder([0.1234, 5.5, 0.0001, 3.14159], 10_000)) == 10_000


def test_largest_remainder_of_nothing_is_all_zero() -> None:
    assert largest_remainder([0, 0], 10_000) == [0, 0]


def test_a_single_contributor_gets_everything() -> None:
    assert contributor_weights([120]) == ([10_000], WeightMethod.SINGLE)


def test_leave_one_out_lifts_set_the_weights_and_negative_lift_is_clipped() -> None:
    bps, method = contributor_weights([100, 100, 100], lifts=[3.0, 1.0, -2.0])
    assert method is WeightMethod.LEAVE_ONE_OUT
    assert bps == [7500, 2500, 0]


def test_without_any_positive_lift_weights_follow_surviving_rows() -> None:
    bps, method = contributor_weights([300, 100], lifts=[-1.0, 0.0])
    assert method is WeightMethod.ROWS
    assert bps == [7500, 2500]


def test_a_contribution_with_no_surviving_rows_weighs_nothing() -> None:
    bps, _ = contributor_weights([0, 50], lifts=[5.0, 1.0])
    assert bps == [0, 10_000]


def test_many_contributors_are_weighted_by_rows() -> None:
    rows = list(range(1, 14))
    bps, method = contributor_weights(rows)
    assert method is WeightMethod.ROWS
    assert sum(bps) == 10_000
    assert bps == sorted(bps)
