"""Line numbers for `gateway flows check`: where a table, a key or an option sits in a TOML file."""

from __future__ import annotations

import re
from collections.abc import Iterator


class SourceMap:
    """Finds the line of a table header, of a key in a table, or of a pattern within a table.

    tomllib gives values without positions, so this reads the text once more: it skips strings,
    comments and multi-line values, and notes the table headers (`[steps.age]`,
    `[[steps.visited.routes]]`) and the lines that start a key at the top of a table.
    """

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.headers: list[tuple[int, tuple[str, ...]]] = []
        self.top: set[int] = set()  # lines (1-based) that start at the top level of a table
        for number, starts_top, header in _scan(self.lines):
            if header is not None:
                self.headers.append((number, header))
            elif starts_top:
                self.top.add(number)

    def header_line(self, path: tuple[str, ...], index: int = 0) -> int | None:
        """The line of the `index`-th header naming exactly `path`."""
        found = [number for number, names in self.headers if names == path]
        return found[index] if index < len(found) else None

    def key_line(self, path: tuple[str, ...], key: str, index: int = 0) -> int | None:
        """The line of `key = ...` written directly in table `path` (its `index`-th header)."""
        start = self.header_line(path, index)
        if start is None and path:
            return None
        pattern = re.compile(r"\s*(?:%s|\"%s\"|'%s')\s*=" % ((re.escape(key),) * 3))
        for number in range(start or 0, self._section_end(start or 0)):
            if number + 1 in self.top and pattern.match(self.lines[number]):
                return number + 1
        return None

    def find_line(self, path: tuple[str, ...], pattern: str) -> int | None:
        """The first line matching `pattern` in table `path` or its sub-tables."""
        start = self.header_line(path)
        if start is None:
            return None
        end = len(self.lines)
        for number, names in self.headers:
            if number > start and names[: len(path)] != path:
                end = number - 1
                break
        regex = re.compile(pattern)
        for number in range(start, end):
            if regex.search(self.lines[number]):
                return number + 1
        return None

    def line(self, path: tuple[str, ...], key: str | None = None) -> int:
        """Best line for a problem: the key, else the table header, else an enclosing one."""
        if key is not None:
            found = self.key_line(path, key)
            if found:
                return found
        for size in range(len(path), 0, -1):
            found = self.header_line(path[:size])
            if found:
                return found
        return 1

    def step_line(self, step_id: str, key: str | None = None) -> int:
        return self.line(("steps", step_id), key)

    def option_line(self, step_id: str, value: str) -> int:
        """The line of an option's `value = "..."` (inline or in [[steps.x.options]])."""
        quoted = re.escape(value)
        pattern = rf"\bvalue\s*=\s*(\"{quoted}\"|'{quoted}')"
        found = self.find_line(("steps", step_id), pattern)
        return found or self.step_line(step_id, "options")

    def route_line(self, step_id: str, index: int, key: str, value: str | None = None) -> int:
        """The line of `key` in the step's `index`-th route (`value` narrows inline routes)."""
        path = ("steps", step_id)
        pattern = rf"\b{re.escape(key)}\s*=" + (rf"\s*[\"']{re.escape(value)}" if value else "")
        return (
            self.key_line(path + ("routes",), key, index)
            or self.find_line(path, pattern)
            or self.step_line(step_id, "routes")
        )

    def _section_end(self, start: int) -> int:
        for number, _ in self.headers:
            if number > start:
                return number - 1
        return len(self.lines)


def _scan(lines: list[str]) -> Iterator[tuple[int, bool, tuple[str, ...] | None]]:
    """Yield (line number, starts at top level, header path or None) for every line."""
    depth = 0
    quote: str | None = None  # the delimiter of a multi-line string still open
    for number, raw in enumerate(lines, start=1):
        starts_top = depth == 0 and quote is None
        code, quote = _strip_strings(raw, quote)
        if starts_top and _HEADER.match(code.strip()):
            header = _header(raw)
            if header:
                yield number, True, header
                continue
        depth = max(0, depth + sum(code.count(c) for c in "[{") - sum(code.count(c) for c in "]}"))
        yield number, starts_top, None


def _strip_strings(line: str, quote: str | None) -> tuple[str, str | None]:
    """The line's code with strings emptied and the comment cut, and any open multi-line quote."""
    out: list[str] = []
    i = 0
    while i < len(line):
        if quote is not None:
            end = line.find(quote, i)
            while end != -1 and quote == '"""' and _escaped(line, end):
                end = line.find(quote, end + 1)
            if end == -1:
                return "".join(out), quote
            out.append('""')
            i, quote = end + 3, None
            continue
        char = line[i]
        if char == "#":
            break
        if line.startswith('"""', i) or line.startswith("'''", i):
            quote, i = line[i : i + 3], i + 3
            continue
        if char in "\"'":
            end = i + 1
            while end < len(line) and line[end] != char:
                end += 2 if char == '"' and line[end] == "\\" else 1
            out.append(char * 2)
            i = end + 1
            continue
        out.append(char)
        i += 1
    return "".join(out), quote


def _escaped(line: str, index: int) -> bool:
    slashes = 0
    while index - slashes - 1 >= 0 and line[index - slashes - 1] == "\\":
        slashes += 1
    return slashes % 2 == 1


_HEADER = re.compile(r"\[\[?\s*(.+?)\s*\]\]?\Z")
_KEY_PART = re.compile(r"\s*(\"(?:[^\"\\]|\\.)*\"|'[^']*'|[A-Za-z0-9_-]+)\s*(\.|\]|$)")


def _header(raw: str) -> tuple[str, ...]:
    """The dotted key of a header line: `[steps."my step"]` -> ("steps", "my step")."""
    text = raw.strip().lstrip("[")
    parts: list[str] = []
    while text and not text.startswith("]"):
        match = _KEY_PART.match(text)
        if not match:
            return ()
        part = match.group(1)
        parts.append(part[1:-1] if part[0] in "\"'" else part)
        text = text[match.end(1) :].lstrip()
        text = text[1:] if text.startswith(".") else text
    return tuple(parts)
