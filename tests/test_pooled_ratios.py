"""``bench/pooled_ratios.py``: the paired wall ratios of several benchmark files, pooled with a CI."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
from scipy import stats

_SPEC = importlib.util.spec_from_file_location("pooled_ratios", Path(__file__).parents[1] / "bench" / "pooled_ratios.py")
pooled = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(pooled)


def _file(tmp_path: Path, name: str, task: str, walls: list[tuple[int, float, float]]) -> str:
    runs = {task: [{"seed": s, "a": {"wall_s": a}, "b": {"wall_s": b}} for s, a, b in walls]}
    path = tmp_path / name
    path.write_text(json.dumps({"code": "abc", "runs": runs}))
    return str(path)


def test_pairs_of_every_file_are_pooled_per_task_in_order(tmp_path):
    one = _file(tmp_path, "one.json", "mlp", [(0, 50.0, 100.0), (1, 60.0, 80.0)])
    two = _file(tmp_path, "two.json", "mlp", [(2, 35.0, 70.0)])
    assert pooled.ratios([one, two]) == {"mlp": [(0, 0.5), (1, 0.75), (2, 0.5)]}


def test_the_summary_is_a_geometric_mean_with_a_t_interval_on_log_ratios():
    pairs = [(0, 0.5), (1, 0.75), (2, 0.5), (3, 0.6)]
    s = pooled.summary(pairs, target=0.7)
    logs = [math.log(x) for _, x in pairs]
    mean = sum(logs) / 4
    sd = math.sqrt(sum((v - mean) ** 2 for v in logs) / 3)
    half = stats.t.ppf(0.975, 3) * sd / 2
    assert s["geo_mean"] == pytest.approx(math.exp(mean))
    assert (s["ci_low"], s["ci_high"]) == pytest.approx((math.exp(mean - half), math.exp(mean + half)))
    assert s["median"] == pytest.approx(0.55) and s["pairs"] == 4 and s["above_target"] == 1
    t = (mean - math.log(0.7)) / (sd / 2)
    assert s["p_below_target"] == pytest.approx(stats.t.cdf(t, 3))  # one-sided: small when the ratios are below 0.7
    above = pooled.summary([(k, 0.98 / x) for k, x in pairs], target=0.7)  # the same spread, centred above 0.7
    assert above["p_below_target"] > 0.5 and above["above_target"] == 4
