"""SearchConfig in parts: flat settings and parts build the same search, a run directory's
flat ``search_config.json`` (as written before the parts) still loads, and every rule is
checked in one place."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from bayesft_tune.errors import UserInputError
from bayesft_tune.search.config import SearchConfig, SearcherConfig, SpaceConfig
from bayesft_tune.run_dir import CONFIG_FILE
from bayesft_tune.search.rundir import load_config, save_config
from bayesft_tune.search.settings import FLAT_KEYS, PARTS

OLD_FLAT = Path(__file__).parent / "fixtures" / "search_config_flat.json"
"""``search_config.json`` as the flat SearchConfig (before the parts) wrote it."""


def test_every_flat_setting_is_in_exactly_one_part_and_readable_flat():
    cfg = SearchConfig()
    assert sum(len(dataclasses.fields(c)) for c in PARTS.values()) == len(FLAT_KEYS) == 47
    for key, part in FLAT_KEYS.items():
        assert getattr(cfg, key) == getattr(getattr(cfg, part), key)


def test_flat_settings_and_parts_build_the_same_search():
    flat = SearchConfig(trials=20, concurrency=4, space=("dropout",), bounds=(0.1, 0.6))
    parts = SearchConfig(searcher=SearcherConfig(trials=20, concurrency=4),
                         domain=SpaceConfig(space=("dropout",), bounds=(0.1, 0.6)))
    assert flat == parts and hash(flat) == hash(parts)
    assert SearchConfig(searcher=SearcherConfig(trials=20), trials=5).trials == 5  # a flat setting wins
    assert dataclasses.replace(flat, trials=3).trials == 3
    assert flat.searcher.trials == 20 and flat.domain.space == ("dropout",)


def test_an_old_flat_search_config_json_loads_and_round_trips(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(OLD_FLAT, run / CONFIG_FILE)
    cfg = load_config(str(run), address="auto")
    assert (cfg.task, cfg.trials, cfg.space, cfg.resources.address) == ("cifar10_vgg11", 4, ("dropout", "noise"),
                                                                        "auto")
    save_config(dataclasses.replace(cfg, address=None), str(tmp_path / "again"))
    assert json.loads((tmp_path / "again" / CONFIG_FILE).read_text()) == json.loads(OLD_FLAT.read_text())


def test_unknown_settings_and_wrong_parts_are_refused_by_name():
    with pytest.raises(UserInputError, match=r"unknown search settings \['trails'\]"):
        SearchConfig(trails=3)
    with pytest.raises(UserInputError, match=r"unknown search settings \['domain'\]"):
        SearchConfig.from_dict({"domain": {}})  # the files hold flat settings only
    with pytest.raises(UserInputError, match="search searcher must be a SearcherConfig"):
        SearchConfig(searcher={"trials": 3})


@pytest.mark.parametrize("settings, match", [
    ({"trials": 0}, "search trials must be an integer >= 1; got trials=0. Fix --trials"),
    ({"bounds": (0.5, 0.2)}, "search bounds must be \\(low, high\\) with 0 <= low < high < 1"),
    ({"space": 5}, "search space must be knob names"),
    ({"mode": "warm_start", "space": ("dropout", "width")}, "search mode must be 'scratch' when the space"),
    ({"training": "drifted", "space": ("dropout", "noise")}, "search training must be left unset"),
    ({"gpus_per_trial": 1.5}, "gpus_per_trial must be a fraction in \\[0, 1\\] or a whole number"),
    ({"verbose": "yes"}, "search verbose must be true or false"),
])
def test_a_broken_rule_names_the_setting_the_value_and_the_fix(settings, match):
    with pytest.raises(UserInputError, match=match):
        SearchConfig(**settings)
