"""The controller manager's wiring: the explicit controller table, upstream's
--controllers grammar, and typed options validated once."""

from __future__ import annotations

import pytest

from runtime.controllers.context import ControllerOptions
from runtime.controllers.manager import CONTROLLERS, ControllerStartError, build, select


def test_every_controller_of_the_table_is_a_class():
    assert "disruption" in CONTROLLERS and "deployment" in CONTROLLERS
    assert all(isinstance(cls, type) for cls in CONTROLLERS.values())


def test_controllers_grammar():
    assert select(["*"]) == list(CONTROLLERS)
    assert "podgc" not in select(["*", "-podgc"])
    assert select(["job", "cronjob"]) == ["job", "cronjob"]
    with pytest.raises(ControllerStartError, match="unknown controller 'nope'"):
        select(["*", "-nope"])


def test_a_controller_that_cannot_be_built_stops_start_up():
    with pytest.raises(ControllerStartError, match="controller replicaset could not be built"):
        build(object(), ["replicaset"])  # type: ignore[arg-type]


@pytest.mark.parametrize("bad,message", [
    ({"job_workers": 0}, "job_workers: must be a whole number of at least 1"),
    ({"pod_eviction_timeout": -1.0}, "pod_eviction_timeout: must not be negative"),
    ({"podgc_quarantine": "40"}, "podgc_quarantine: '40' is not a number"),
    ({"no_such_option": 1}, "unknown controller option"),
])
def test_bad_options_are_refused_once(bad, message):
    with pytest.raises(ValueError, match=message):
        ControllerOptions.from_mapping(bad)


def test_startup_grace_defaults_from_the_monitor_grace():
    assert ControllerOptions(node_monitor_grace_period=90).startup_grace_period == 90
    assert ControllerOptions().startup_grace_period == 60
    assert ControllerOptions(node_startup_grace_period=5).startup_grace_period == 5
