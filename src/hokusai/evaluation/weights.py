"""Contributor weights in basis points from valuation values and their standard errors only (never
from row counts).

* a player is **paid** when its value is distinguishable from nothing: value - 2 x its total
  standard error (estimator + seed noise) is above 0; otherwise it gets 0 bps, ``harmful`` when
  value + 2 x error is below 0, else ``indistinguishable_from_zero``;
* the paid share basis points in proportion to their values, largest-remainder rounded (Hamilton;
  ties go to the earlier contribution), summing to exactly 10000;
* when nobody is paid although the DeltaOne was accepted, the players share equally (except the
  harmful ones; if all are, all share) and the attribution is flagged inconclusive; in a run that was
  not accepted nothing is attributed then (all 0: there is no improvement to pay for);
* a contribution with no surviving row gets 0 (``no_rows``: it is not a player).

Each contribution gets a machine-readable reason (:class:`Reason`). ``hokusai attest verify`` calls
:func:`weights_from_values` on the report's values and standard errors to recompute the attested
weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

TOTAL_BPS = 10_000
DISTINGUISHABLE_Z = 2.0  # a value is paid when value - 2 standard errors > 0
EPSILON_PP = 1e-9  # sums of exactly cancelling marginals are not a gain


class WeightMethod(StrEnum):
    VALUES = "positive_value_share"  # of the distinguishable values
    EQUAL = "equal_split_inconclusive"
    NONE = "nothing_attributed"  # no players, or nobody distinguishable in a run not accepted


class Reason(StrEnum):
    PAID = "distinguishable_gain"
    EQUAL = "inconclusive_equal_split"
    NOISE = "indistinguishable_from_zero"
    HARMFUL = "harmful"
    NO_ROWS = "no_rows"
    NO_VALUE = "no_value"


PAID_REASONS = (Reason.PAID, Reason.EQUAL)


@dataclass(frozen=True)
class Weights:
    bps: list[int]
    method: WeightMethod
    reasons: list[Reason]

    @property
    def inconclusive(self) -> bool:
        return self.method is WeightMethod.EQUAL

    @property
    def paid(self) -> list[bool]:
        return [r in PAID_REASONS for r in self.reasons]


def largest_remainder(shares: Sequence[float], total: int) -> list[int]:
    """Integers proportional to ``shares`` that sum to ``total`` (all zero shares -> all zero)."""
    values = np.asarray(shares, dtype=float)
    if len(values) == 0 or values.sum() <= 0:
        return [0] * len(values)
    exact = values / values.sum() * total
    floors = np.floor(exact).astype(np.int64)
    leftover = int(total - floors.sum())
    order = np.lexsort((np.arange(len(values)), -(exact - floors)))  # biggest remainder, then earliest
    floors[order[:leftover]] += 1
    return [int(v) for v in floors]


def verdict(value_pp: float | None, stderr_pp: float | None, player: bool) -> Reason:
    """Whether one contribution's value is a gain told apart from nothing (``PAID``), and if not why."""
    if not player:
        return Reason.NO_ROWS
    if value_pp is None:
        return Reason.NO_VALUE
    if stderr_pp is None:
        return Reason.NOISE  # no error to tell it apart by
    margin = DISTINGUISHABLE_Z * stderr_pp
    if value_pp - margin > EPSILON_PP:
        return Reason.PAID
    if value_pp + margin < -EPSILON_PP:
        return Reason.HARMFUL
    return Reason.NOISE


def weights_from_values(
    values_pp: Sequence[float | None],
    *,
    stderr_pp: Sequence[float | None],
    players: Sequence[bool],
    accepted: bool,
) -> Weights:
    """Basis points and a reason per contribution from its value and total standard error (pp),
    whether it is a player (rows > 0) and whether the run's DeltaOne was accepted."""
    reasons = [verdict(v, e, p) for v, e, p in zip(values_pp, stderr_pp, players, strict=True)]
    shares = [(v or 0.0) if r is Reason.PAID else 0.0 for v, r in zip(values_pp, reasons, strict=True)]
    if any(r is Reason.PAID for r in reasons):
        return Weights(largest_remainder(shares, TOTAL_BPS), WeightMethod.VALUES, reasons)
    if accepted and any(players):
        harmless = [r is Reason.NOISE for r in reasons]
        sharing = harmless if any(harmless) else [r is not Reason.NO_ROWS for r in reasons]
        split = [Reason.EQUAL if s else r for s, r in zip(sharing, reasons, strict=True)]
        return Weights(largest_remainder([float(s) for s in sharing], TOTAL_BPS), WeightMethod.EQUAL, split)
    return Weights([0] * len(players), WeightMethod.NONE, reasons)
