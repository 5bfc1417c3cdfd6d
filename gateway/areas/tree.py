"""Administrative areas (region → district → ward) for location menus and typed place names.

An areas file (TOML; README.md in this folder describes it) is read once into an `AreaTree`,
which is read-only afterwards: menus list `children(code)`, a report keeps its ward's `code`,
Open311 quotes `address(code)` and `centroid(code)`, and a place name typed over SMS goes
through `match(text)`. Nothing here does I/O except `AreaTree.load` (and `default_tree`).
"""

from __future__ import annotations

import difflib
import functools
import itertools
import re
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any, Literal, cast

Level = Literal["region", "district", "ward"]
LEVELS: tuple[Level, ...] = ("region", "district", "ward")
BUNDLED_FILE = "kenya.toml"
MAX_CODE_LENGTH = 64

# Which list holds an area's children in the file, and their level.
_CHILDREN: dict[Level, tuple[str, Level]] = {
    "region": ("districts", "district"),
    "district": ("wards", "ward"),
}
_AREA_KEYS = ("code", "name", "short", "aliases", "lat", "long")
_TOP_KEYS = ("country", "regions")
_CODE = re.compile(r"[a-z0-9]+(?:[-_/][a-z0-9]+)*\Z")

# Matching: see AreaTree.match.
FUZZY_RATIO = 0.8  # difflib ratio that counts as a small typo
FUZZY_MARGIN = 0.05  # fuzzy matches this close to the best one are ties
FUZZY_MIN_LENGTH = 5  # shorter names only match exactly or as a prefix
PARTIAL_MIN_LENGTH = 3
PREFIX_MIN_LENGTH = 4
# Words a citizen may add around a place name: "Kondele ward", "Kisumu county", "Wadi ya Migosi".
NOISE_WORDS = frozenset(
    "ward wards wadi ya kata county kaunti sub subcounty constituency jimbo district region "
    "quartier".split()
)
# Words too common to identify a place alone: "North" is in a dozen names.
GENERIC_WORDS = frozenset("north south east west central upper lower area".split())
_ROMAN = dict(zip("i ii iii iv v vi vii viii ix x".split(), map(str, range(1, 11)), strict=True))
_APOSTROPHES = re.compile(r"['’‘`´ʼ]")
_WORD = re.compile(r"[^\W_]+")
_SPECIFIC_FIRST = {"ward": 0, "district": 1, "region": 2}


@dataclass(frozen=True, slots=True)
class Area:
    """One region, district or ward. `parent` is the code of the area above (None for a region);
    `lat`/`long` is an approximate centre, or None when the file gives none for this area."""

    code: str
    name: str
    level: Level
    parent: str | None
    lat: float | None = None
    long: float | None = None
    short: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The text of a menu line: the `short` name when the file gives one."""
        return self.short or self.name

    def names(self) -> tuple[str, ...]:
        """Every name this area answers to: name, short name, aliases."""
        return (self.name, *([self.short] if self.short else []), *self.aliases)


class AreaFileError(ValueError):
    """An areas file (or a set of areas) that cannot be used; each problem names file and line."""

    def __init__(self, file: str, problems: list[tuple[int | None, str]]):
        self.file = file
        self.problems = [
            f"{file}:{line}: {text}" if line else f"{file}: {text}" for line, text in problems
        ]
        super().__init__("\n".join(self.problems))


class AreaTree:
    """The areas of one file, in file order (menus list them in that order)."""

    def __init__(
        self, areas: Iterable[Area], *, country: str | None = None, source: str = "<areas>"
    ):
        self.country = country
        self.source = source
        self._areas: dict[str, Area] = {}
        self._children: dict[str | None, list[Area]] = {}
        problems = [(None, text) for text in self._add_all(areas)]
        if problems:
            raise AreaFileError(source, problems)
        self._position = {code: index for index, code in enumerate(self._areas)}
        self._keys = {area.code: _Keys.of(area, self.path(area.code)[-2::-1]) for area in self}
        self._exact: dict[str, list[Area]] = {}
        for area in self:
            for key in self._keys[area.code].exact:
                self._exact.setdefault(key, []).append(area)

    @classmethod
    def load(cls, path: str | PathLike[str]) -> AreaTree:
        """Read and check an areas file; AreaFileError lists every problem with its line."""
        file = str(path)
        try:
            text = Path(path).read_bytes().decode("utf-8")
        except OSError as error:
            raise AreaFileError(file, [(None, f"cannot read file: {error.strerror}")]) from None
        except UnicodeDecodeError:
            raise AreaFileError(file, [(None, "file is not UTF-8 text")]) from None
        return cls.parse(text, source=file)

    @classmethod
    def parse(cls, text: str, *, source: str = "<string>") -> AreaTree:
        """Build a tree from the text of an areas file (`source` names it in errors)."""
        reader = _Reader(source, text)
        country, areas = reader.read()
        if reader.problems:
            raise AreaFileError(source, reader.problems)
        return cls(areas, country=country, source=source)

    def __len__(self) -> int:
        return len(self._areas)

    def __iter__(self) -> Iterator[Area]:
        return iter(self._areas.values())

    def __contains__(self, code: object) -> bool:
        return code in self._areas

    def get(self, code: str) -> Area:
        try:
            return self._areas[code]
        except KeyError:
            raise KeyError(f"no area with code {code!r} in {self.source}") from None

    def regions(self) -> list[Area]:
        return list(self._children.get(None, []))

    def children(self, code: str | None) -> list[Area]:
        """The areas directly under `code` (the regions for None; nothing under a ward)."""
        if code is not None:
            self.get(code)
        return list(self._children.get(code, []))

    def areas(self, level: str | None = None) -> list[Area]:
        """Every area, or those of one level, in file order."""
        wanted = _check_level(level)
        return [area for area in self if wanted is None or area.level == wanted]

    def path(self, code: str) -> list[Area]:
        """The area and those above it, region first: [region, district, ward]."""
        chain = [self.get(code)]
        while chain[-1].parent is not None:
            chain.append(self._areas[chain[-1].parent])
        return chain[::-1]

    def address(self, code: str) -> str:
        """The area and those above it, nearest first: "Railways, Kisumu Central, Kisumu"."""
        return ", ".join(area.name for area in reversed(self.path(code)))

    def centroid(self, code: str) -> tuple[float, float] | None:
        """(lat, long) of the area, else of the nearest area above it that has one."""
        for area in reversed(self.path(code)):
            if area.lat is not None and area.long is not None:
                return (area.lat, area.long)
        return None

    def match(self, text: str, level: str | None = None) -> list[Area]:
        """The areas a typed place name means, best first; [] when none is close.

        Case, accents, apostrophes, spacing and punctuation are ignored, as are words like
        "ward" or "county" ("KONDELE ward", "Shauri-Moyo", "Lang'ata" = "langata"); "Umoja 2"
        is "Umoja II"; "Railways, Kisumu Central" qualifies a name with the areas above it.
        The first kind of match that finds anything decides, so an exact name beats a typo:
        1. exact: the whole name (or short name, alias, qualified name);
        2. partial: one part of a name ("Masogo" for "Masogo/Nyang'oma", "Dandora" for the
           four Dandora wards), the start of one ("Shauri moyo", "Kondel"; 4+ characters),
           or some of its words in any order ("Golf Course", "Seme West"); never a word as
           common as "north" or "central" alone;
        3. a small typo in a whole name of 5+ characters ("Kondelle", "Migossi"): difflib
           ratio >= 0.8, or edit distance (with swaps) <= 1, <= 2 from 9 characters; the
           matches within 0.05 of the best one are kept;
        4. the same for a typo in one part of a name.
        Several areas come back when the text is ambiguous: ties first by closeness, then
        ward before district before region, then file order.
        """
        candidates = self.areas(level)
        query = _Query.of(text)
        if not query.forms or not candidates:
            return []
        for find in (self._exact_matches, self._partial_matches):
            found = find(query, candidates)
            if found:
                return found
        for attribute in ("exact", "parts"):
            found = self._fuzzy_matches(query, candidates, attribute)
            if found:
                return found
        return []

    # --- matching ------------------------------------------------------------------------

    def _exact_matches(self, query: _Query, candidates: list[Area]) -> list[Area]:
        allowed = {area.code for area in candidates}
        found = (area for form in query.forms for area in self._exact.get(form, []))
        return self._ranked({area: 1.0 for area in found if area.code in allowed}, margin=0.0)

    def _partial_matches(self, query: _Query, candidates: list[Area]) -> list[Area]:
        scores = {area: self._keys[area.code].partial(query) for area in candidates}
        return self._ranked({area: s for area, s in scores.items() if s > 0}, margin=1.0)

    def _fuzzy_matches(self, query: _Query, candidates: list[Area], attribute: str) -> list[Area]:
        scores: dict[Area, float] = {}
        for area in candidates:
            keys: frozenset[str] = getattr(self._keys[area.code], attribute)
            for form, key in itertools.product(query.forms, keys):
                score = _typo_score(form, key)
                if score is not None and score > scores.get(area, 0.0):
                    scores[area] = score
        return self._ranked(scores, margin=FUZZY_MARGIN)

    def _ranked(self, scores: dict[Area, float], *, margin: float) -> list[Area]:
        if not scores:
            return []
        best = max(scores.values())
        kept = [area for area, score in scores.items() if score >= best - margin - 1e-9]
        return sorted(
            kept,
            key=lambda area: (
                -scores[area],
                _SPECIFIC_FIRST[area.level],
                self._position[area.code],
            ),
        )

    # --- building ------------------------------------------------------------------------

    def _add_all(self, areas: Iterable[Area]) -> list[str]:
        problems: list[str] = []
        for area in areas:
            problem = self._link_problem(area)
            if problem:
                problems.append(problem)
                continue
            self._areas[area.code] = area
            self._children.setdefault(area.parent, []).append(area)
        return problems

    def _link_problem(self, area: Area) -> str | None:
        """Why `area` cannot join the tree here (parents come before their children)."""
        if area.code in self._areas:
            return f"code {area.code!r} is used twice"
        if area.level not in LEVELS:
            return f"{area.code!r}: unknown level {area.level!r}"
        above = LEVELS.index(area.level) - 1
        if above < 0:
            return None if area.parent is None else f"region {area.code!r} cannot have a parent"
        parent = self._areas.get(area.parent or "")
        if parent is None or parent.level != LEVELS[above]:
            return f"{area.level} {area.code!r} must be under a {LEVELS[above]} listed before it"
        return None


@functools.cache
def default_tree() -> AreaTree:
    """The bundled areas file (Kenya), loaded once: the default of `reports.areas_file`."""
    resource = resources.files(__package__).joinpath(BUNDLED_FILE)
    with resources.as_file(resource) as path:
        return AreaTree.load(path)


def load_tree(path: str | PathLike[str] | None = None) -> AreaTree:
    """The areas file at `path`, or the bundled one when `path` is None or empty."""
    return AreaTree.load(path) if path else default_tree()


def _check_level(level: str | None) -> Level | None:
    if level is not None and level not in LEVELS:
        raise ValueError(f"unknown area level {level!r} (expected one of {', '.join(LEVELS)})")
    return cast(Level | None, level)


# --- folding and typo distance -----------------------------------------------------------


def fold_words(text: str) -> list[str]:
    """The words of `text`, compared loosely: "Nyang'oma  WARD ii" -> ["nyangoma", "ward", "2"]."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    plain = _APOSTROPHES.sub("", plain.casefold())
    return [_ROMAN.get(word, word) for word in _WORD.findall(plain)]


def _compact(text: str) -> str:
    return "".join(fold_words(text))


@dataclass(frozen=True)
class _Query:
    """Typed text, folded: `forms` without spaces, first without then with words like "ward"."""

    forms: tuple[str, ...]
    words: tuple[str, ...]  # without words like "ward"

    @classmethod
    def of(cls, text: str) -> _Query:
        words = fold_words(text)
        kept = tuple(word for word in words if word not in NOISE_WORDS)
        forms = dict.fromkeys(("".join(kept), "".join(words)))
        return cls(tuple(form for form in forms if form), kept)

    @property
    def vague(self) -> bool:
        """Only words like "north" or "central": too common to pick a place by part."""
        return all(word in GENERIC_WORDS or word.isdigit() for word in self.words)


def _typo_score(query: str, key: str) -> float | None:
    """difflib ratio of a query that is `key` with a small typo; None when it is not."""
    if len(key) < FUZZY_MIN_LENGTH:
        return None
    allowed_edits = 2 if len(key) >= 9 else 1
    close_length = abs(len(query) - len(key)) <= allowed_edits
    matcher = difflib.SequenceMatcher(None, query, key, autojunk=False)
    if not close_length and (
        matcher.real_quick_ratio() < FUZZY_RATIO or matcher.quick_ratio() < FUZZY_RATIO
    ):
        return None
    ratio = matcher.ratio()
    if ratio >= FUZZY_RATIO or (close_length and edit_distance(query, key) <= allowed_edits):
        return ratio
    return None


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): edits, with a swap as one."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, start=1):
            current[j] = min(
                previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)
            )
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


@dataclass(frozen=True)
class _Keys:
    """An area's names, folded for matching (see AreaTree.match)."""

    exact: frozenset[str]  # names, and names followed by the names of the areas above
    parts: frozenset[str]  # "/"-separated pieces and distinctive words of multi-word names
    words: tuple[frozenset[str], ...]  # the words of each name

    @classmethod
    def of(cls, area: Area, above: list[Area]) -> _Keys:
        """`above`: the areas over `area`, nearest first."""
        own = _name_keys(area)
        exact = set(own)
        for size in range(1, len(above) + 1):
            for chain in itertools.combinations(above, size):
                for combo in itertools.product(own, *(_name_keys(a) for a in chain)):
                    exact.add("".join(combo))
        parts = {part for name in area.names() for part in _parts(name)} - own
        words = tuple(frozenset(fold_words(name)) for name in area.names())
        return cls(frozenset(exact), frozenset(parts), words)

    def partial(self, query: _Query) -> float:
        """How well `query` names part of this area (1.0 for a whole part), or 0.0.

        A part ("Masogo"), the start of a name or part ("Shauri moyo", "Kondel"), or some of
        a name's words in any order ("Golf Course", "Seme West").
        """
        if query.vague or len("".join(query.words)) < PARTIAL_MIN_LENGTH:
            return 0.0
        scores = [self._piece(form) for form in query.forms]
        scores += [
            len("".join(query.words)) / len("".join(sorted(words)))
            for words in self.words
            if words.issuperset(query.words)
        ]
        return max(scores, default=0.0)

    def _piece(self, form: str) -> float:
        if len(form) < PARTIAL_MIN_LENGTH:
            return 0.0
        if form in self.parts:
            return 1.0
        if len(form) < PREFIX_MIN_LENGTH:
            return 0.0
        starts = [len(form) / len(key) for key in self.exact | self.parts if key.startswith(form)]
        return max(starts, default=0.0)


def _name_keys(area: Area) -> frozenset[str]:
    return frozenset(key for key in map(_compact, area.names()) if key)


def _parts(name: str) -> set[str]:
    words = fold_words(name)
    if len(words) < 2:
        return set()
    pieces = {_compact(piece) for piece in name.split("/")} if "/" in name else set()
    distinctive = [word for word in words if word not in GENERIC_WORDS]
    pieces |= set(distinctive)
    pieces.add("".join(distinctive))
    return {piece for piece in pieces if len(piece) >= PARTIAL_MIN_LENGTH}


# --- reading the file --------------------------------------------------------------------


_CODE_LINE = re.compile(r"""\bcode\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_TOML_AT = re.compile(r"\s*\(at (?:line (\d+), column \d+|end of document)\)")


class _Reader:
    """Walks a parsed areas file, collecting areas in file order and every problem found."""

    def __init__(self, source: str, text: str):
        self.source = source
        self.text = text
        self.problems: list[tuple[int | None, str]] = []
        self.areas: list[Area] = []
        self.defined: dict[str, str] = {}  # code -> the label of the area that has it
        self.lines: dict[str, int | None] = {}  # label -> line of its code
        self.code_lines: dict[str, list[int]] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            for found in _CODE_LINE.finditer(line):
                self.code_lines.setdefault(found.group(1) or found.group(2), []).append(number)
        self.code_seen: Counter[str] = Counter()

    def read(self) -> tuple[str | None, list[Area]]:
        try:
            data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as error:
            at = _TOML_AT.search(str(error))
            line = int(at.group(1)) if at and at.group(1) else None
            self.problems.append((line, f"invalid TOML: {_TOML_AT.sub('', str(error))}"))
            return None, []
        for key in data:
            if key not in _TOP_KEYS:
                line = self.first_line(rf"\s*\[*\s*{re.escape(key)}\b")
                text = f"unknown top-level key {key!r} (expected {', '.join(_TOP_KEYS)})"
                self.problems.append((line, text))
        country = data.get("country")
        if country is not None and not _is_text(country):
            self.problems.append((None, "country must be non-empty text"))
        self.read_list(data.get("regions"), "region", None, "regions", owner=None)
        return (country if _is_text(country) else None), self.areas

    def read_list(
        self, entries: Any, level: Level, parent: Area | None, where: str, owner: str | None
    ) -> None:
        """Read the list at `where` ("regions[0].districts"); `owner` names the area holding it."""
        if not isinstance(entries, list) or not entries:
            key = where.rsplit(".", 1)[-1]
            text = f"{key} must be a non-empty list of {level}s"
            line = self.lines.get(owner or "")
            self.problems.append((line, f"{owner}: {text}" if owner else text))
            return
        for index, entry in enumerate(entries):
            self.read_entry(entry, level, parent, f"{where}[{index}]", owner)

    def read_entry(
        self, entry: Any, level: Level, parent: Area | None, where: str, owner: str | None
    ) -> None:
        """Read one area at `where`; problems name it by its code when it has one."""
        line = self.lines.get(owner or "")
        if not isinstance(entry, dict):
            self.problems.append((line, f"{where}: expected a table with code and name"))
            return
        code = entry.get("code")
        label = f"{level} {code!r}" if _is_text(code) else where
        line = self.line_of(code) or line
        self.lines.setdefault(label, line)
        area = self.read_area(entry, level, parent, label, line)
        children = _CHILDREN.get(level)
        allowed = _AREA_KEYS + ((children[0],) if children else ())
        unknown = ", ".join(repr(key) for key in entry if key not in allowed)
        if unknown:
            self.problem(line, label, f"unknown key(s) {unknown} (allowed: {', '.join(allowed)})")
        if area is not None:
            self.areas.append(area)
        if children:
            key, below = children
            self.read_list(entry.get(key), below, area, f"{where}.{key}", label)

    def read_area(
        self, entry: dict[str, Any], level: Level, parent: Area | None, label: str, line: int | None
    ) -> Area | None:
        before = len(self.problems)
        code = self.code(entry.get("code"), label, line)
        name = self.name(entry, "name", label, line, required=True)
        short = self.name(entry, "short", label, line, required=False)
        aliases = self.aliases(entry.get("aliases"), label, line)
        lat, long = self.point(entry.get("lat"), entry.get("long"), label, line)
        if len(self.problems) > before or code is None or name is None:
            return None
        parent_code = parent.code if parent else None
        return Area(code, name, level, parent_code, lat, long, short, aliases)

    def code(self, value: Any, label: str, line: int | None) -> str | None:
        if value is None:
            self.problem(line, label, "missing code")
            return None
        if not isinstance(value, str) or not _CODE.match(value) or len(value) > MAX_CODE_LENGTH:
            self.problem(
                line,
                label,
                f"code {value!r} must be lowercase letters and digits "
                f"joined by - _ or /, at most {MAX_CODE_LENGTH} characters",
            )
            return None
        if value in self.defined:
            first = self.defined[value]
            at = f" (line {self.lines[first]})" if self.lines.get(first) else ""
            self.problem(line, label, f"code {value!r} is already used by {first}{at}")
            return None
        self.defined[value] = label
        return value

    def name(
        self, entry: dict[str, Any], key: str, label: str, line: int | None, *, required: bool
    ) -> str | None:
        value = entry.get(key)
        if value is None:
            if required:
                self.problem(line, label, f"missing {key}")
            return None
        if not _is_text(value):
            self.problem(line, label, f"{key} must be non-empty text")
            return None
        return " ".join(value.split())

    def aliases(self, value: Any, label: str, line: int | None) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(_is_text(alias) for alias in value):
            self.problem(line, label, "aliases must be a list of non-empty texts")
            return ()
        return tuple(" ".join(alias.split()) for alias in value)

    def point(
        self, lat: Any, long: Any, label: str, line: int | None
    ) -> tuple[float | None, float | None]:
        if lat is None and long is None:
            return None, None
        if lat is None or long is None:
            self.problem(line, label, "give both lat and long, or neither")
        elif not (_is_number(lat) and -90 <= lat <= 90):
            self.problem(line, label, f"lat {lat!r} must be a number from -90 to 90")
        elif not (_is_number(long) and -180 <= long <= 180):
            self.problem(line, label, f"long {long!r} must be a number from -180 to 180")
        else:
            return float(lat), float(long)
        return None, None

    def line_of(self, code: Any) -> int | None:
        """The line of this entry's `code = "..."` (the n-th one when a code is repeated)."""
        if not isinstance(code, str) or code not in self.code_lines:
            return None
        lines = self.code_lines[code]
        index = min(self.code_seen[code], len(lines) - 1)
        self.code_seen[code] += 1
        return lines[index]

    def first_line(self, pattern: str) -> int | None:
        found = re.compile(pattern)
        lines = enumerate(self.text.splitlines(), start=1)
        return next((number for number, line in lines if found.match(line)), None)

    def problem(self, line: int | None, label: str, text: str) -> None:
        self.problems.append((line, f"{label}: {text}"))


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
