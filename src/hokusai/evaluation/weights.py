"""Contributor weights in basis points from valuation values only (never from row counts).

* a value whose magnitude is within the seed-noise floor counts as 0;
* basis points are proportional to the positive part of each (floored) value, largest-remainder
  rounded (Hamilton; ties go to the earlier contribution), summing to exactly 10000;
* when no value clears the floor although the DeltaOne was accepted, the contributions with
  surviving rows share equally (except those whose value is below minus the floor: they
  demonstrably hurt; if all did, all share) and the attribution is flagged inconclusive; in a run
  that was not accepted nothing is attributed then (all 0: there is no improvement to pay for);
* a contribution with no surviving row gets 0 (it is not a player).

``hokusai attest verify`` calls :func:`weights_from_values` on the report's values to recompute
the attested weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

TOTAL_BPS = 10_000


class WeightMethod(StrEnum):
    VALUES = "positive_value_share"
    EQUAL = "equal_split_inconclusive"
    NONE = "nothing_attributed"  # no players, or nothing cleared the floor in a run not accepted


@dataclass(frozen=True)
class Weights:
    bps: list[int]
    method: WeightMethod

    @property
    def inconclusive(self) -> bool:
        return self.method is WeightMethod.EQUAL


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


def cleared(value_pp: float | None, floor_pp: float) -> float:
    """The value that earns: 0 when unknown or within the noise floor, else the value itself."""
    if value_pp is None or abs(value_pp) <= floor_pp:
        return 0.0
    return value_pp


def weights_from_values(
    values_pp: Sequence[float | None], players: Sequence[bool], floor_pp: float, accepted: bool
) -> Weights:
    """Basis points per contribution from its value (pp), whether it is a player (rows > 0) and
    whether the run's DeltaOne was accepted."""
    shares = [max(0.0, cleared(v, floor_pp)) if p else 0.0 for v, p in zip(values_pp, players, strict=True)]
    if sum(shares) > 0:
        return Weights(largest_remainder(shares, TOTAL_BPS), WeightMethod.VALUES)
    if accepted and any(players):
        harmless = [p and cleared(v, floor_pp) >= 0 for v, p in zip(values_pp, players, strict=True)]
        sharing = harmless if any(harmless) else list(players)
        return Weights(largest_remainder([float(s) for s in sharing], TOTAL_BPS), WeightMethod.EQUAL)
    return Weights([0] * len(players), WeightMethod.NONE)
