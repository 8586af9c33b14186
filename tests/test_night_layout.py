"""The licensed capacity in the layout file: optional, a whole number of people."""

from __future__ import annotations

import copy

import pytest

from services.store import seed


@pytest.mark.parametrize("value", [0, -5, "many", 1.5, 100001])
def test_a_capacity_that_is_not_a_number_of_people_is_refused(value: object) -> None:
    layout = copy.deepcopy(seed.load_layout())
    layout["venue"]["capacity"] = value
    with pytest.raises(seed.LayoutError, match="'capacity' of the venue"):
        seed.check_layout(layout)


def test_the_capacity_may_be_left_out() -> None:
    layout = copy.deepcopy(seed.load_layout())
    assert layout["venue"]["capacity"] == 350
    del layout["venue"]["capacity"]
    seed.check_layout(layout)
