"""The maximum sustainable QPS of a sweep (MAX_QPS_RULE), on figures from a real 2-core CPU smoke run."""
from __future__ import annotations

import pytest

from fixtures.harness.performance.decisions import max_sustainable_qps

from fixtures.harness.performance.guidellm import LoadFigures
from fixtures.harness.thresholds import LoadSettings

SETTINGS = LoadSettings(max_client_overhead=0.05, min_completed=10, max_latency_factor=3.0, min_rate_kept=0.9)


def point(strategy, rate, rps, latency, overhead=0.01, completed=60, errored=0) -> LoadFigures:
    return LoadFigures("image_captioning", strategy, rate, completed, errored, 0, 13.0, {"mean": latency}, {}, {},
                       rps, 0.0, 716.0, 128.0, overhead)


# The W8A8 candidate's captioning sweep of one smoke run: the throughput and top constant level were
# a few ms over 3 x 0.248 s; the middle level's client was too slow to count.
CANDIDATE = [point("synchronous", None, 3.999, 0.2481), point("throughput", None, 9.227, 0.8211),
             point("constant", 6.613, 6.462, 0.6038, overhead=0.133), point("constant", 9.227, 9.076, 0.7874)]


def test_the_limit_crossing_is_interpolated_between_the_levels_that_bracket_it():
    d = max_sustainable_qps(CANDIDATE, SETTINGS, 128)
    limit = 3 * 0.2481
    expected = 3.999 + (limit - 0.2481) / (0.7874 - 0.2481) * (9.076 - 3.999)
    assert d.problem is None and d.max_qps == pytest.approx(expected) and d.at == "between synchronous and constant@9.23"
    assert "client overhead 13.30%" in d.excluded["constant@6.61"]


def test_the_fastest_level_within_the_limit_is_taken_when_none_faster_was_too_slow():
    sweep = [point("synchronous", None, 3.845, 0.2577), point("throughput", None, 9.150, 0.7344),
             point("constant", 6.497, 6.384, 0.3801, overhead=0.102)]
    d = max_sustainable_qps(sweep, SETTINGS, 128)
    assert d.max_qps == 9.150 and d.at == "throughput"


def test_a_level_excluded_for_another_reason_is_never_interpolated_to():
    sweep = [point("synchronous", None, 4.0, 0.25), point("throughput", None, 9.0, 0.80, errored=3)]
    d = max_sustainable_qps(sweep, SETTINGS, 128)
    assert d.max_qps == 4.0 and d.at == "synchronous" and "3 request(s) errored" in d.excluded["throughput"]


def test_an_untrustworthy_synchronous_level_cannot_decide():
    d = max_sustainable_qps([point("synchronous", None, 4.0, 0.25, completed=3)], SETTINGS, 128)
    assert d.max_qps is None and "only 3 timed request(s) completed" in d.problem
