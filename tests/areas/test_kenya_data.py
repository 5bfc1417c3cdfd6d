"""The bundled Kenya areas file: complete for Kisumu and Nairobi, consistent, and shipped."""

from __future__ import annotations

import fnmatch
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from gateway.areas import BUNDLED_FILE, AreaTree, default_tree, load_tree

REPO = Path(__file__).resolve().parents[2]

# County -> sub-counties in IEBC order, each with its number of wards.
SUB_COUNTIES = {
    "Kisumu": {
        "Kisumu East": 5, "Kisumu West": 5, "Kisumu Central": 6, "Seme": 4, "Nyando": 5,
        "Muhoroni": 5, "Nyakach": 5,
    },
    "Nairobi City": {
        "Westlands": 5, "Dagoretti North": 5, "Dagoretti South": 5, "Lang'ata": 5, "Kibra": 5,
        "Roysambu": 5, "Kasarani": 5, "Ruaraka": 5, "Embakasi South": 5, "Embakasi North": 5,
        "Embakasi Central": 5, "Embakasi East": 5, "Embakasi West": 4, "Makadara": 4,
        "Kamukunji": 5, "Starehe": 6, "Mathare": 6,
    },
}  # fmt: skip

KISUMU_WARDS = {
    "Kisumu East": ["Kajulu", "Kolwa East", "Manyatta B", "Nyalenda A", "Kolwa Central"],
    "Kisumu West": ["South West Kisumu", "Central Kisumu", "Kisumu North", "West Kisumu",
                    "North West Kisumu"],
    "Kisumu Central": ["Railways", "Migosi", "Shaurimoyo Kaloleni", "Market Milimani", "Kondele",
                       "Nyalenda B"],
    "Seme": ["West Seme", "Central Seme", "East Seme", "North Seme"],
    "Nyando": ["East Kano/Wawidhi", "Awasi/Onjiko", "Ahero", "Kabonyo/Kanyagwal", "Kobura"],
    "Muhoroni": ["Miwani", "Ombeyi", "Masogo/Nyang'oma", "Chemelil", "Muhoroni/Koru"],
    "Nyakach": ["South West Nyakach", "North Nyakach", "Central Nyakach", "West Nyakach",
                "South East Nyakach"],
}  # fmt: skip

# Rough boxes around each county: every point in the file must fall inside its county's.
BOXES = {"Kisumu": ((-0.5, 0.1), (34.4, 35.4)), "Nairobi City": ((-1.45, -1.15), (36.6, 37.1))}


@pytest.fixture(scope="module")
def kenya() -> AreaTree:
    return default_tree()


def test_counties_sub_counties_and_ward_counts(kenya: AreaTree) -> None:
    found = {
        county.name: {
            district.name: len(kenya.children(district.code))
            for district in kenya.children(county.code)
        }
        for county in kenya.regions()
    }
    assert found == SUB_COUNTIES
    assert [list(districts) for districts in found.values()] == [
        list(districts) for districts in SUB_COUNTIES.values()
    ]  # IEBC order
    assert sum(found["Kisumu"].values()) == 35
    assert sum(found["Nairobi City"].values()) == 85
    assert kenya.country == "Kenya"


def test_kisumu_wards_by_name(kenya: AreaTree) -> None:
    found = {
        district.name: [ward.name for ward in kenya.children(district.code)]
        for district in kenya.children("kisumu")
    }
    assert found == KISUMU_WARDS


def test_the_budget_flow_names_the_same_kisumu_central_wards(kenya: AreaTree) -> None:
    budget = tomllib.loads((REPO / "flows" / "budget.toml").read_text(encoding="utf-8"))
    labels = [option["label"]["en"] for option in budget["steps"]["ward"]["options"]]
    wards = [ward.name for ward in kenya.children("kisumu-central")]
    assert wards == KISUMU_WARDS["Kisumu Central"]
    assert labels[:-1] == wards  # the last option is "Another ward"


def test_some_nairobi_wards(kenya: AreaTree) -> None:
    def wards(code: str) -> list[str]:
        return [ward.name for ward in kenya.children(code)]

    assert wards("embakasi-north") == [
        "Kariobangi North", "Dandora Area I", "Dandora Area II", "Dandora Area III",
        "Dandora Area IV",
    ]  # fmt: skip
    assert wards("starehe") == [
        "Nairobi Central",
        "Ngara",
        "Pangani",
        "Ziwani/Kariokor",
        "Landimawe",
        "Nairobi South",
    ]
    assert wards("kibra") == [
        "Laini Saba",
        "Lindi",
        "Makina",
        "Woodley/Kenyatta Golf Course",
        "Sarang'ombe",
    ]


def test_codes_are_unique_and_follow_the_scheme(kenya: AreaTree) -> None:
    areas = kenya.areas()
    assert len({area.code for area in areas}) == len(areas) == 2 + 24 + 120
    for area in kenya.areas("ward"):
        district = kenya.get(area.parent or "")
        assert area.code.startswith(district.code + "/")
    for area in kenya.areas("district"):
        assert "/" not in area.code


def test_every_area_has_a_centroid_inside_its_county(kenya: AreaTree) -> None:
    for area in kenya:
        centroid = kenya.centroid(area.code)
        assert centroid is not None, area.code
        (south, north), (west, east) = BOXES[kenya.path(area.code)[0].name]
        assert south <= centroid[0] <= north and west <= centroid[1] <= east, area.code


def test_kisumu_central_wards_have_their_own_centroids(kenya: AreaTree) -> None:
    for ward in kenya.children("kisumu-central"):
        assert (ward.lat, ward.long) == kenya.centroid(ward.code)
        assert ward.lat is not None


def test_names_fit_a_menu_line(kenya: AreaTree) -> None:
    for area in kenya:
        assert area.label.isascii() and area.label.isprintable(), area.code
        assert 0 < len(area.label) <= 24, area.code


def test_the_file_ships_with_the_package() -> None:
    assert resources.files("gateway.areas").joinpath(BUNDLED_FILE).is_file()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["gateway"]
    assert any(fnmatch.fnmatch(f"areas/{BUNDLED_FILE}", pattern) for pattern in patterns)


def test_load_tree_defaults_to_the_bundled_file(tmp_path: Path) -> None:
    assert load_tree(None) is default_tree()
    assert load_tree("") is default_tree()
    copy = tmp_path / "areas.toml"
    copy.write_bytes(resources.files("gateway.areas").joinpath(BUNDLED_FILE).read_bytes())
    assert [area.code for area in load_tree(copy)] == [area.code for area in default_tree()]
