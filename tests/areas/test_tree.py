"""AreaTree: loading and its checks, navigation, centroids, and tolerant place-name matching."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.areas import Area, AreaFileError, AreaTree, default_tree, edit_distance, fold_words

# Two counties that share a ward name, one ward with a short name and an alias, a district
# whose wards have no point of their own, and a county with no point at all.
SMALL = """
country = "Testland"

[[regions]]
code = "north"
name = "North County"
lat = 1.0
long = 30.0

[[regions.districts]]
code = "hill"
name = "Hill"
lat = 1.1
long = 30.1
wards = [
  { code = "hill/township", name = "Township", lat = 1.11, long = 30.11 },
  { code = "hill/milimani", name = "Milimani" },
  { code = "hill/milimano", name = "Milimano" },
]

[[regions]]
code = "south"
name = "South County"

[[regions.districts]]
code = "lake"
name = "Lake"

[[regions.districts.wards]]  # the long form of a list of wards
code = "lake/township"
name = "Township"

[[regions.districts.wards]]
code = "lake/big"
name = "Big Fish Market and Landing Beach"
short = "Fish Market"
aliases = ["Beach"]

[[regions.districts.wards]]
code = "lake/sokoni"
name = "Sokoni Mpya"
"""


@pytest.fixture(scope="module")
def small() -> AreaTree:
    return AreaTree.parse(SMALL, source="small.toml")


@pytest.fixture(scope="module")
def kenya() -> AreaTree:
    return default_tree()


def codes(areas: list[Area]) -> list[str]:
    return [area.code for area in areas]


# --- navigation --------------------------------------------------------------------------


def test_regions_and_children_keep_file_order(small: AreaTree) -> None:
    assert codes(small.regions()) == ["north", "south"]
    assert small.children(None) == small.regions()
    assert codes(small.children("north")) == ["hill"]
    assert codes(small.children("hill")) == ["hill/township", "hill/milimani", "hill/milimano"]
    assert small.children("hill/township") == []


def test_get_and_levels(small: AreaTree) -> None:
    ward = small.get("lake/big")
    assert (ward.level, ward.parent, ward.name, ward.label) == (
        "ward",
        "lake",
        "Big Fish Market and Landing Beach",
        "Fish Market",
    )
    assert small.get("north").parent is None
    assert small.get("hill").level == "district"
    assert "lake/big" in small and "nowhere" not in small
    assert len(small) == 10
    assert small.country == "Testland"
    assert codes(small.areas("district")) == ["hill", "lake"]


def test_unknown_code_and_level_are_clear_errors(small: AreaTree) -> None:
    with pytest.raises(KeyError, match="nowhere"):
        small.get("nowhere")
    with pytest.raises(KeyError, match="nowhere"):
        small.children("nowhere")
    with pytest.raises(ValueError, match="unknown area level 'village'"):
        small.match("Township", level="village")


def test_path_and_address(kenya: AreaTree) -> None:
    assert codes(kenya.path("kisumu-central/railways")) == [
        "kisumu",
        "kisumu-central",
        "kisumu-central/railways",
    ]
    assert kenya.path("kisumu") == [kenya.get("kisumu")]
    assert kenya.address("kisumu-central/railways") == "Railways, Kisumu Central, Kisumu"
    assert kenya.address("kisumu-central") == "Kisumu Central, Kisumu"


def test_centroid_falls_back_to_the_nearest_area_above(small: AreaTree) -> None:
    assert small.centroid("hill/township") == (1.11, 30.11)
    assert small.centroid("hill/milimani") == (1.1, 30.1)  # the district's
    assert small.centroid("hill") == (1.1, 30.1)
    assert small.centroid("lake/sokoni") is None  # nothing above has a point either


# --- loading and its checks ----------------------------------------------------------------


def test_the_readme_example_loads() -> None:
    readme = (Path(__file__).parents[2] / "gateway" / "areas" / "README.md").read_text("utf-8")
    example = readme.split("## The format")[1].split("```toml\n")[1].split("```")[0]
    tree = AreaTree.parse(example, source="README.md")
    assert tree.address("kinondoni/kigogo") == "Kigogo, Kinondoni, Dar es Salaam"
    assert tree.centroid("kinondoni/kigogo") == (-6.77, 39.23)
    assert codes(tree.match("kkoo")) == ["ilala/kariakoo"]


def test_load_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "areas.toml"
    path.write_text(SMALL, encoding="utf-8")
    tree = AreaTree.load(path)
    assert tree.source == str(path)
    assert codes(tree.regions()) == ["north", "south"]


def test_load_of_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(AreaFileError, match=r"missing\.toml: cannot read file"):
        AreaTree.load(tmp_path / "missing.toml")


REGION = '[[regions]]\ncode = "r"\nname = "R"\n'
DISTRICT = '[[regions.districts]]\ncode = "d"\nname = "D"\n'
WARD = '  { code = "d/w", name = "W" },\n'


def file_with(ward: str = WARD, region: str = REGION, district: str = DISTRICT) -> str:
    return f"{region}\n{district}wards = [\n{ward}]\n"


def ward(fields: str) -> str:
    return file_with(f"  {{ {fields} }},\n")


# (case, file text, line of the problem or None, what the problem says)
BROKEN = [
    ("not toml", 'regions = [\n  { code = "r" \n', 2, "invalid TOML"),
    ("no regions", 'country = "X"\n', None, "regions must be a non-empty list of regions"),
    ("unknown top key", 'countries = "X"\n' + file_with(), 1, "unknown top-level key"),
    ("region without districts", REGION, 2,
     "region 'r': districts must be a non-empty list of districts"),
    ("district without wards", REGION + DISTRICT, 5,
     "district 'd': wards must be a non-empty list of wards"),
    ("missing code", ward('name = "W"'), 6, "regions[0].districts[0].wards[0]: missing code"),
    ("bad code", ward('code = "d/Big W", name = "W"'), 9,
     "code 'd/Big W' must be lowercase letters and digits"),
    ("duplicate code", file_with(WARD + WARD), 10, "code 'd/w' is already used by"),
    ("code of a district reused", ward('code = "d", name = "W"'), 9,
     "ward 'd': code 'd' is already used by district 'd' (line 6)"),
    ("missing name", ward('code = "d/w"'), 9, "ward 'd/w': missing name"),
    ("blank name", ward('code = "d/w", name = "  "'), 9, "name must be non-empty text"),
    ("lat without long", ward('code = "d/w", name = "W", lat = 1.0'), 9,
     "give both lat and long, or neither"),
    ("lat out of range", ward('code = "d/w", name = "W", lat = 95, long = 1'), 9,
     "lat 95 must be a number from -90 to 90"),
    ("long as text", ward('code = "d/w", name = "W", lat = 1, long = "36"'), 9,
     "long '36' must be a number"),
    ("typo in a key", ward('code = "d/w", name = "W", lon = 36'), 9, "unknown key(s) 'lon'"),
    ("aliases not a list", ward('code = "d/w", name = "W", aliases = "X"'), 9,
     "aliases must be a list of non-empty texts"),
    ("wards straight under a region", REGION + "wards = [\n" + WARD + "]\n", 2,
     "unknown key(s) 'wards'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line", "message"), [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN]
)
def test_a_broken_file_says_where_and_what(text: str, line: int | None, message: str) -> None:
    with pytest.raises(AreaFileError) as caught:
        AreaTree.parse(text, source="areas.toml")
    where = f"areas.toml:{line}: " if line else "areas.toml: "
    assert any(p.startswith(where) and message in p for p in caught.value.problems), (
        caught.value.problems
    )


def test_every_problem_is_reported_at_once() -> None:
    text = file_with('  { code = "d/w", name = "" },\n  { code = "D W", name = "X" },\n')
    with pytest.raises(AreaFileError) as caught:
        AreaTree.parse(text, source="areas.toml")
    assert len(caught.value.problems) == 2
    assert str(caught.value).count("areas.toml:") == 2


def test_building_from_areas_checks_the_links() -> None:
    region = Area("r", "R", "region", None, None, None)
    stray = Area("r/w", "W", "ward", "r", None, None)
    with pytest.raises(AreaFileError, match="ward 'r/w' must be under a district"):
        AreaTree([region, stray])
    with pytest.raises(AreaFileError, match="used twice"):
        AreaTree([region, region])


# --- matching ------------------------------------------------------------------------------

MATCHES = [
    # exact, whatever the case, accents, spacing, punctuation or words like "ward"
    ("Kondele", ["kisumu-central/kondele"]),
    ("kondele", ["kisumu-central/kondele"]),
    ("KONDELE ward", ["kisumu-central/kondele"]),
    ("  Kondélé. ", ["kisumu-central/kondele"]),
    ("nyalenda b", ["kisumu-central/nyalenda-b"]),
    ("Nyalenda 'B'", ["kisumu-central/nyalenda-b"]),
    ("shaurimoyo-kaloleni", ["kisumu-central/shaurimoyo-kaloleni"]),
    ("Shauri Moyo Kaloleni", ["kisumu-central/shaurimoyo-kaloleni"]),
    ("Langata", ["langata"]),
    ("Lang’ata", ["langata"]),
    ("Mutuini", ["dagoretti-south/mutu-ini"]),
    ("Umoja 2", ["embakasi-west/umoja-ii"]),
    ("Kibera", ["kibra"]),  # alias
    ("Nairobi", ["nairobi"]),  # alias: the county is "Nairobi City"
    ("Wadi ya Migosi", ["kisumu-central/migosi"]),
    ("Kisumu county", ["kisumu"]),
    # qualified by the areas above: an address as Open311 gives it
    ("Railways, Kisumu Central, Kisumu", ["kisumu-central/railways"]),
    ("Kondele Kisumu", ["kisumu-central/kondele"]),
    # part of a name, or its start
    ("Shauri moyo", ["kisumu-central/shaurimoyo-kaloleni"]),
    ("Masogo", ["muhoroni/masogo-nyangoma"]),
    ("Kondel", ["kisumu-central/kondele"]),
    ("Golf Course", ["kibra/woodley-kenyatta-golf-course"]),
    ("Seme West", ["seme/west-seme"]),
    ("Dandora 2", ["embakasi-north/dandora-area-ii"]),
    # small typos
    ("Kondelle", ["kisumu-central/kondele"]),
    ("Migossi", ["kisumu-central/migosi"]),
    ("Kodnele", ["kisumu-central/kondele"]),  # a swap
    ("Zimmermann", ["roysambu/zimmerman"]),
    ("Upper Savanna", ["embakasi-east/upper-savannah"]),
    ("Kisumo", ["kisumu"]),
    ("Kondelle, Kisumu", ["kisumu-central/kondele"]),
    # ambiguous: several, best first
    ("Kasarani", ["kasarani/kasarani", "kasarani"]),  # the ward before the sub-county
    ("Nyalenda", ["kisumu-east/nyalenda-a", "kisumu-central/nyalenda-b"]),
    ("Umoja", ["embakasi-west/umoja-i", "embakasi-west/umoja-ii"]),
    ("Eastleigh", ["kamukunji/eastleigh-north", "kamukunji/eastleigh-south"]),
    ("Dandora", [f"embakasi-north/dandora-area-{n}" for n in ("i", "ii", "iii", "iv")]),
    ("Kisumu Eest", ["kisumu-east", "kisumu-west"]),  # a typo as close to both
    # nothing close
    ("xyzzy", []),
    ("hello world", []),
    ("Kiboswa", []),
    ("", []),
    ("?!", []),
    ("b", []),
    ("ward", []),
    ("north", []),  # in a dozen names: too vague
    ("2", []),
]


@pytest.mark.parametrize(("text", "expected"), MATCHES)
def test_match(kenya: AreaTree, text: str, expected: list[str]) -> None:
    assert codes(kenya.match(text)) == expected


@pytest.mark.parametrize(
    ("text", "level", "expected"),
    [
        ("Kasarani", "ward", ["kasarani/kasarani"]),
        ("Kasarani", "district", ["kasarani"]),
        ("Kasarani", "region", []),
        ("Muhoroni", "district", ["muhoroni"]),
        ("Muhoroni", "ward", ["muhoroni/muhoroni-koru"]),
        (
            "Seme",
            "ward",
            ["seme/west-seme", "seme/central-seme", "seme/east-seme", "seme/north-seme"],
        ),
        ("Kondele", "district", []),
        ("Nairobi", "region", ["nairobi"]),
    ],
)
def test_match_at_one_level(kenya: AreaTree, text: str, level: str, expected: list[str]) -> None:
    assert codes(kenya.match(text, level=level)) == expected


def test_a_ward_name_shared_by_two_counties_returns_both(small: AreaTree) -> None:
    assert codes(small.match("township")) == ["hill/township", "lake/township"]
    assert codes(small.match("Township, South County")) == ["lake/township"]


def test_a_typo_as_close_to_two_names_returns_both(small: AreaTree) -> None:
    assert codes(small.match("Milimanu")) == ["hill/milimani", "hill/milimano"]
    assert codes(small.match("Milimani")) == ["hill/milimani"]  # exact beats fuzzy


def test_short_names_and_aliases_match(small: AreaTree) -> None:
    assert codes(small.match("fish market")) == ["lake/big"]
    assert codes(small.match("beach")) == ["lake/big"]
    assert codes(small.match("Sokoni")) == ["lake/sokoni"]


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("", "", 0),
        ("kondele", "kondele", 0),
        ("kondelle", "kondele", 1),
        ("kodnele", "kondele", 1),
        ("migossi", "migosi", 1),
        ("abc", "", 3),
        ("kisumu", "kisumo", 1),
        ("ca", "abc", 3),
    ],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance == edit_distance(b, a)


def test_fold_words() -> None:
    assert fold_words("Nyang'oma  WARD ii") == ["nyangoma", "ward", "2"]
    assert fold_words("Kondélé/Mutu-ini") == ["kondele", "mutu", "ini"]


# --- properties ----------------------------------------------------------------------------

ALL_AREAS = st.sampled_from(default_tree().areas())


@given(ALL_AREAS)
@settings(max_examples=300, deadline=None)
def test_every_area_is_found_by_its_own_name(area: Area) -> None:
    """It comes first, or after areas of the very same name (the ward "Kasarani" comes before
    the sub-county "Kasarani")."""
    found = default_tree().match(area.name)
    assert area in found
    ahead = found[: found.index(area)]
    assert all(fold_words(other.name) == fold_words(area.name) for other in ahead)


@given(ALL_AREAS, st.data())
@settings(max_examples=300, deadline=None)
def test_case_and_separators_do_not_matter(area: Area, data: st.DataObject) -> None:
    cased = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in area.name)
    separator = data.draw(st.sampled_from([" ", "  ", "-", ". ", "_"]))
    typed = separator.join(cased.split(" "))
    assert area in default_tree().match(typed)


@given(st.text(max_size=40), st.sampled_from([None, "region", "district", "ward"]))
@settings(max_examples=300, deadline=None)
def test_match_takes_any_text(text: str, level: str | None) -> None:
    found = default_tree().match(text, level=level)
    assert len(found) == len(set(found))
    assert all(level is None or area.level == level for area in found)
