"""Contributor weights in basis points that always sum to exactly 10000.

* one contributor: 10000;
* 2..12 contributors: leave-one-contributor-out lift on the primary metric (candidate with
  everyone minus candidate without that contributor), negative lift clipped to 0;
* more than 12, or when no contributor has a positive lift: proportional to surviving rows.
Rounding is largest-remainder (Hamilton); ties go to the earlier contribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import numpy as np

TOTAL_BPS = 10_000
MAX_LEAVE_ONE_OUT = 12


class WeightMethod(StrEnum):
    SINGLE = "single_contributor"
    LEAVE_ONE_OUT = "leave_one_out_lift"
    ROWS = "proportional_to_rows"


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


def uses_leave_one_out(contributors: int) -> bool:
    """Whether the weights need one retraining per contributor."""
    return 2 <= contributors <= MAX_LEAVE_ONE_OUT


def contributor_weights(
    rows: Sequence[int], lifts: Sequence[float] | None = None
) -> tuple[list[int], WeightMethod]:
    """Basis points per contribution from surviving ``rows`` and, when computed, their ``lifts``."""
    if len(rows) == 1:
        return [TOTAL_BPS if rows[0] > 0 else 0], WeightMethod.SINGLE
    if lifts is not None:
        clipped = [max(0.0, lift) if count > 0 else 0.0 for lift, count in zip(lifts, rows, strict=True)]
        if sum(clipped) > 0:
            return largest_remainder(clipped, TOTAL_BPS), WeightMethod.LEAVE_ONE_OUT
    return largest_remainder(rows, TOTAL_BPS), WeightMethod.ROWS
