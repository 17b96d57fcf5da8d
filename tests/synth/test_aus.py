"""The AU table and the expression sampler (Du et al. 2014, Table 1)."""

from __future__ import annotations

import numpy as np
import pytest

from fsfer import emotions
from fsfer.synth.aus import AU_COLUMNS, AUS, CATEGORIES, TABLE_AUS, categories, sample_aus


def test_categories_are_the_canonical_22_plus_contempt() -> None:
    assert categories("all") == emotions.BASIC + emotions.COMPOUND
    assert len(categories("all")) == 22
    assert categories("basic") == emotions.BASIC
    assert categories("compound") == emotions.COMPOUND
    assert categories("basic", contempt=True) == emotions.BASIC + (emotions.CONTEMPT,)
    assert set(CATEGORIES) == set(emotions.ALL)
    with pytest.raises(ValueError):
        categories("some")


def test_table_facts() -> None:
    assert len(TABLE_AUS) == 17 and set(AUS) == set(TABLE_AUS) | {14}
    assert AU_COLUMNS[0] == "au1" and AU_COLUMNS[-1] == "au26"
    assert CATEGORIES["happiness"].core == (12, 25)
    assert CATEGORIES["sadness"].core == CATEGORIES["sadly_angry"].core == (4, 15)
    assert CATEGORIES["sadly_disgusted"].core == CATEGORIES["appalled"].core == CATEGORIES["hatred"].core == (4, 10)
    assert dict(CATEGORIES["fearfully_surprised"].variable) == {4: 0.47, 10: 0.35, 11: 0.22, 26: 0.51}
    assert CATEGORIES["neutral"].aus == frozenset()
    assert CATEGORIES["contempt"].core == (12, 14) and CATEGORIES["contempt"].one_sided
    assert all(au in TABLE_AUS for c in CATEGORIES.values() if c.name != "contempt" for au in c.aus)


def test_core_aus_strong_variable_aus_at_their_share_neutral_faint() -> None:
    rng = np.random.default_rng(0)
    draws = [sample_aus("sadness", rng, 1.0)[0] for _ in range(2000)]
    for au in (4, 15):
        assert min(d[au] for d in draws) >= 0.7
    for au, share in CATEGORIES["sadness"].variable:
        on = np.mean([d[au] > 0 for d in draws])
        assert abs(on - share) < 0.04, (au, on, share)
    assert all(d[12] == 0 for d in draws)  # never an AU outside the category
    neutral = [sample_aus("neutral", rng, 1.0)[0] for _ in range(200)]
    assert max(max(d.values()) for d in neutral) <= 0.12
    assert np.mean([sum(v > 0 for v in d.values()) for d in neutral]) > 1  # faint noise, not blank


def test_expressiveness_scales_intensity_and_contempt_is_one_sided() -> None:
    rng = np.random.default_rng(1)
    weak = [sample_aus("happiness", rng, 0.5)[0][12] for _ in range(100)]
    assert max(weak) <= 0.5
    sides = {sample_aus("contempt", rng, 1.0)[1] for _ in range(50)}
    assert sides == {"left", "right"}
    assert sample_aus("anger", rng, 1.0)[1] == "both"
