"""Where a POSTed request is: a ward of the area tree, from address_string and/or lat+long.

An address_string is matched like a place name typed over SMS (AreaTree.match): a ward name, or a
district or region holding several wards. lat+long alone picks the ward with the nearest centroid;
with an address_string it picks the nearest of the matching wards. Centroids are approximate
points, never boundaries, so the ward from coordinates alone is a best guess.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.areas import Area, AreaTree
from gateway.open311.errors import bad_request


@dataclass(frozen=True)
class Location:
    ward: Area
    lat: float | None
    long: float | None


def locate(tree: AreaTree, form: Mapping[str, str]) -> Location:
    point = _point(form)
    text = form.get("address_string", "").strip()
    if not text and point is None:
        raise bad_request("a location is required: address_string, or lat and long, or both")
    candidates = _wards_named(tree, text) if text else tree.areas("ward")
    if text and not candidates and point is None:
        raise bad_request(f"address_string {text!r} matches no ward")
    if point is not None:
        ward = _nearest(tree, candidates or tree.areas("ward"), point)
        if ward is None:
            raise bad_request("no ward has a centroid to match lat and long against")
        return Location(ward, *point)
    if len(candidates) > 1:
        names = "; ".join(tree.address(area.code) for area in candidates[:5])
        raise bad_request(f"address_string {text!r} matches several wards ({names}): be precise")
    return Location(candidates[0], None, None)


def _wards_named(tree: AreaTree, text: str) -> list[Area]:
    """The wards an address means: a matched ward, or every ward of a matched district/region.

    Matching every level at once lets an exact district name ("Kisumu Central") beat a ward
    that shares its words ("Central Kisumu"); a ward named like its district wins the tie.
    """
    matches = tree.match(text)
    wards = [area for area in matches if area.level == "ward"]
    if wards:
        return wards
    found = [w for area in matches for w in tree.areas("ward") if area in tree.path(w.code)]
    return list(dict.fromkeys(found))


def _point(form: Mapping[str, str]) -> tuple[float, float] | None:
    lat_text, long_text = form.get("lat", "").strip(), form.get("long", "").strip()
    if not lat_text and not long_text:
        return None
    if not lat_text or not long_text:
        raise bad_request("give both lat and long, or neither")
    try:
        lat, long = float(lat_text), float(long_text)
    except ValueError:
        raise bad_request("lat and long must be decimal degrees (WGS84)") from None
    if not (-90 <= lat <= 90 and -180 <= long <= 180) or math.isnan(lat) or math.isnan(long):
        raise bad_request("lat must be within -90..90 and long within -180..180")
    return lat, long


def _nearest(tree: AreaTree, wards: list[Area], point: tuple[float, float]) -> Area | None:
    placed = [(ward, tree.centroid(ward.code)) for ward in wards]
    scored = [(_distance(point, at), ward) for ward, at in placed if at is not None]
    return min(scored, key=lambda pair: pair[0])[1] if scored else None


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in radians (haversine): enough to rank centroids."""
    lat1, long1, lat2, long2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((long2 - long1) / 2) ** 2
    return 2 * math.asin(min(1.0, math.sqrt(h)))
