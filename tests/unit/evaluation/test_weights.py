"""Contributor weights: basis points from values only, floored by seed noise, summing to 10000."""

from __future__ import annotations

from hokusai.evaluation.weights import WeightMethod, largest_remainder, weights_from_values


def test_largest_remainder_sums_exactly_and_gives_leftovers_to_the_biggest_remainders() -> None:
    assert largest_remainder([1, 1, 1], 10_000) == [3334, 3333, 3333]
    assert largest_remainder([2, 1], 10_000) == [6667, 3333]
    assert sum(largest_remainder([0.1234, 5.5, 0.0001, 3.14159], 10_000)) == 10_000


def test_largest_remainder_of_nothing_is_all_zero() -> None:
    assert largest_remainder([0, 0], 10_000) == [0, 0]


def test_weights_are_proportional_to_the_positive_part_of_each_value() -> None:
    weights = weights_from_values([3.0, 1.0, -2.0], [True, True, True], floor_pp=0.0, accepted=True)
    assert weights.method is WeightMethod.VALUES
    assert weights.bps == [7500, 2500, 0]


def test_a_value_within_the_noise_floor_counts_as_zero() -> None:
    weights = weights_from_values([3.0, 0.4, -0.4], [True, True, True], floor_pp=0.5, accepted=True)
    assert weights.bps == [10_000, 0, 0]


def test_a_value_just_above_the_floor_earns_its_share() -> None:
    assert weights_from_values([3.0, 1.0], [True, True], floor_pp=0.99, accepted=True).bps == [7500, 2500]


def test_in_a_run_not_accepted_nothing_is_attributed_when_no_value_clears_the_floor() -> None:
    weights = weights_from_values([0.1, -0.2], [True, True], floor_pp=0.5, accepted=False)
    assert weights.bps == [0, 0]
    assert weights.method is WeightMethod.NONE and not weights.inconclusive


def test_in_a_run_not_accepted_values_that_clear_the_floor_still_set_the_weights() -> None:
    assert weights_from_values([2.0, -3.0], [True, True], floor_pp=0.5, accepted=False).bps == [10_000, 0]


def test_when_no_value_clears_the_floor_of_an_accepted_run_players_share_equally_flagged() -> None:
    weights = weights_from_values([0.1, -0.2, 5.0], [True, True, False], floor_pp=0.5, accepted=True)
    assert weights.bps == [5000, 5000, 0]
    assert weights.inconclusive


def test_the_equal_split_leaves_out_a_player_whose_value_is_clearly_negative() -> None:
    weights = weights_from_values([0.1, -3.0, 0.2], [True, True, True], floor_pp=0.5, accepted=True)
    assert weights.bps == [5000, 0, 5000] and weights.inconclusive


def test_when_every_player_clearly_hurt_an_accepted_run_still_splits_among_all() -> None:
    weights = weights_from_values([-1.0, -3.0], [True, True], floor_pp=0.5, accepted=True)
    assert weights.bps == [5000, 5000]


def test_a_contribution_with_no_surviving_rows_gets_nothing_whatever_its_value() -> None:
    weights = weights_from_values([5.0, 1.0], [False, True], floor_pp=0.0, accepted=True)
    assert weights.bps == [0, 10_000]
    assert not weights.inconclusive


def test_without_players_nobody_is_weighted() -> None:
    weights = weights_from_values([None, None], [False, False], floor_pp=0.0, accepted=True)
    assert weights.bps == [0, 0]
    assert weights.method is WeightMethod.NONE


def test_an_unknown_value_of_a_player_counts_as_zero() -> None:
    assert weights_from_values([None, 2.0], [True, True], floor_pp=0.0, accepted=True).bps == [0, 10_000]
