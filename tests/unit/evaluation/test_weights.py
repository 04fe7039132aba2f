"""Contributor weights: basis points from values told apart from nothing, summing to 10000, with a
reason per contribution."""

from __future__ import annotations

from collections.abc import Sequence

from hokusai.evaluation.weights import (
    Reason,
    WeightMethod,
    Weights,
    largest_remainder,
    weights_from_values,
)


def weigh(
    values: Sequence[float | None],
    errors: Sequence[float | None] | None = None,
    players: Sequence[bool] | None = None,
    accepted: bool = True,
) -> Weights:
    return weights_from_values(
        values,
        stderr_pp=errors if errors is not None else [0.0] * len(values),
        players=players if players is not None else [True] * len(values),
        accepted=accepted,
    )


def test_largest_remainder_sums_exactly_and_gives_leftovers_to_the_biggest_remainders() -> None:
    assert largest_remainder([1, 1, 1], 10_000) == [3334, 3333, 3333]
    assert largest_remainder([2, 1], 10_000) == [6667, 3333]
    assert sum(largest_remainder([0.1234, 5.5, 0.0001, 3.14159], 10_000)) == 10_000


def test_largest_remainder_of_nothing_is_all_zero() -> None:
    assert largest_remainder([0, 0], 10_000) == [0, 0]


def test_exact_values_without_error_are_paid_in_proportion_and_a_negative_one_is_harmful() -> None:
    weights = weigh([3.0, 1.0, -2.0])
    assert weights.method is WeightMethod.VALUES
    assert weights.bps == [7500, 2500, 0]
    assert weights.reasons == [Reason.PAID, Reason.PAID, Reason.HARMFUL]
    assert weights.paid == [True, True, False]


def test_a_value_within_twice_its_standard_error_of_zero_is_not_paid() -> None:
    weights = weigh([3.0, 0.4, -0.4, 0.41], [0.1, 0.2, 0.2, 0.2])
    assert weights.bps == [8798, 0, 0, 1202]
    assert weights.reasons == [Reason.PAID, Reason.NOISE, Reason.NOISE, Reason.PAID]


def test_the_margin_is_each_value_s_own_error() -> None:
    """The same value is paid with a small error and not with a large one."""
    assert weigh([1.0, 1.0], [0.1, 0.6]).bps == [10_000, 0]


def test_a_value_of_exactly_zero_is_noise_not_a_gain() -> None:
    weights = weigh([2.0, 0.0, 1e-15])
    assert weights.bps == [10_000, 0, 0]
    assert weights.reasons[1:] == [Reason.NOISE, Reason.NOISE]


def test_a_player_whose_error_is_unknown_is_not_paid() -> None:
    assert weigh([2.0, 1.0], [0.1, None]).reasons == [Reason.PAID, Reason.NOISE]


def test_in_a_run_not_accepted_nothing_is_attributed_when_nobody_is_distinguishable() -> None:
    weights = weigh([0.1, -0.2], [0.25, 0.25], accepted=False)
    assert weights.bps == [0, 0]
    assert weights.method is WeightMethod.NONE and not weights.inconclusive
    assert weights.reasons == [Reason.NOISE, Reason.NOISE]


def test_in_a_run_not_accepted_distinguishable_values_still_set_the_weights() -> None:
    assert weigh([2.0, -3.0], [0.25, 0.25], accepted=False).bps == [10_000, 0]


def test_when_nobody_is_distinguishable_in_an_accepted_run_players_share_equally_flagged() -> None:
    weights = weigh([0.1, -0.2, 5.0], [0.25, 0.25, 0.0], players=[True, True, False])
    assert weights.bps == [5000, 5000, 0]
    assert weights.inconclusive
    assert weights.reasons == [Reason.EQUAL, Reason.EQUAL, Reason.NO_ROWS]


def test_the_equal_split_leaves_out_a_harmful_player() -> None:
    weights = weigh([0.1, -3.0, 0.2], [0.25] * 3)
    assert weights.bps == [5000, 0, 5000] and weights.inconclusive
    assert weights.reasons[1] is Reason.HARMFUL


def test_when_every_player_is_harmful_an_accepted_run_still_splits_among_all() -> None:
    assert weigh([-1.0, -3.0], [0.25, 0.25]).bps == [5000, 5000]


def test_a_contribution_with_no_surviving_rows_gets_nothing_whatever_its_value() -> None:
    weights = weigh([5.0, 1.0], players=[False, True])
    assert weights.bps == [0, 10_000]
    assert weights.reasons == [Reason.NO_ROWS, Reason.PAID]
    assert not weights.inconclusive


def test_without_players_nobody_is_weighted() -> None:
    weights = weigh([None, None], [None, None], players=[False, False])
    assert weights.bps == [0, 0]
    assert weights.method is WeightMethod.NONE


def test_an_unknown_value_of_a_player_is_not_paid() -> None:
    weights = weigh([None, 2.0])
    assert weights.bps == [0, 10_000] and weights.reasons[0] is Reason.NO_VALUE


def test_splitting_a_contribution_into_pieces_that_are_each_noise_pays_none_of_them() -> None:
    """One clean contribution (value 2.0 ± 0.2) split in 8 pieces of 0.25 ± 0.15: as one it is paid,
    as pieces none is, so splitting cannot raise its share."""
    whole = weigh([2.0, 1.0], [0.2, 0.1])
    split = weigh([*[0.25] * 8, 1.0], [*[0.15] * 8, 0.1])
    assert whole.bps[0] == 6667
    assert sum(split.bps[:8]) == 0 and split.bps[8] == 10_000
