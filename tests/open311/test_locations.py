"""Where a POSTed request is: address_string and/or lat+long to a ward of the bundled tree."""

from __future__ import annotations

import pytest

from gateway.areas import default_tree
from gateway.open311.errors import Open311Error
from gateway.open311.locations import locate

KISUMU_CITY = {"lat": "-0.1022", "long": "34.7617"}


@pytest.mark.parametrize(
    ("form", "ward"),
    [
        ({"address_string": "Railways"}, "kisumu-central/railways"),
        ({"address_string": "railways, kisumu central"}, "kisumu-central/railways"),
        ({"address_string": "Kondelle"}, "kisumu-central/kondele"),  # a small typo
        (KISUMU_CITY, "kisumu-central/market-milimani"),  # the nearest centroid
        ({"address_string": "Kisumu Central"} | KISUMU_CITY, "kisumu-central/market-milimani"),
        ({"address_string": "Dandora", "lat": "-1.25", "long": "36.9"}, None),  # one of four
    ],
)
def test_locate(form: dict[str, str], ward: str | None) -> None:
    location = locate(default_tree(), form)
    if ward is None:
        assert location.ward.code.startswith("embakasi-north/dandora")
    else:
        assert location.ward.code == ward
    assert (location.lat is None) == ("lat" not in form)


@pytest.mark.parametrize(
    ("form", "mentions"),
    [
        ({}, "location is required"),
        ({"address_string": "  "}, "location is required"),
        ({"address_string": "Atlantis"}, "matches no ward"),
        ({"address_string": "Dandora"}, "several wards"),
        ({"lat": "-0.1"}, "both lat and long"),
        ({"lat": "north", "long": "east"}, "decimal degrees"),
        ({"lat": "-0.1", "long": "200"}, "within"),
        ({"lat": "nan", "long": "34"}, "within"),
    ],
)
def test_locate_refuses(form: dict[str, str], mentions: str) -> None:
    with pytest.raises(Open311Error) as raised:
        locate(default_tree(), form)
    assert raised.value.status == 400
    assert mentions in raised.value.description
