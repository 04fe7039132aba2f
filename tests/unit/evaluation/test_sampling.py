"""Stratified sampling keeps class shares, is seeded and keeps row order."""

from __future__ import annotations

import pandas as pd

from hokusai.evaluation.sampling import sample_fraction, stratified_sample

FRAME = pd.DataFrame({"v": range(1000), "y": [0] * 900 + [1] * 100})


def test_each_class_keeps_its_share_of_the_sample() -> None:
    sample = stratified_sample(FRAME, "y", 0.2, seed=1)
    assert len(sample) == 200
    assert sample["y"].value_counts().to_dict() == {0: 180, 1: 20}


def test_the_same_seed_draws_the_same_rows_in_their_original_order() -> None:
    first = stratified_sample(FRAME, "y", 0.1, seed=3)
    assert first.index.tolist() == stratified_sample(FRAME, "y", 0.1, seed=3).index.tolist()
    assert first.index.tolist() == sorted(first.index)
    assert first.index.tolist() != stratified_sample(FRAME, "y", 0.1, seed=4).index.tolist()


def test_a_limit_above_the_row_count_keeps_everything() -> None:
    assert sample_fraction(1000, None) == 1.0
    assert sample_fraction(1000, 5000) == 1.0
    assert sample_fraction(1000, 250) == 0.25
    assert stratified_sample(FRAME, "y", 1.0, seed=0) is FRAME
