"""Small-group suppression: a count of fewer than `threshold` people is never shown, so no one
can be singled out, and neither is a count from which a hidden one follows by subtraction.

A table's rows add up to their shown totals, and (on the staff page, where the overall counts
are shown) its columns add up to those. A line (row or column) with exactly one hidden cell
gives that cell away, so its smallest other cell is hidden too, until no line has exactly one.
This is the simple, classic "complementary suppression"; it does not guard against solving
several tables together, which the cell threshold keeps cheap to live with.

Hidden cells come back as None; the template writes "fewer than {threshold}".
"""

from __future__ import annotations

from collections.abc import Sequence

Shown = int | None


def suppress_table(
    cells: Sequence[Sequence[int]], row_totals: Sequence[int], threshold: int, *,
    columns_known: bool = True,
) -> tuple[list[list[Shown]], list[Shown]]:
    """Hide the small cells and row totals of a table, and their giveaways.

    `columns_known`: the column totals (and the grand total) are shown elsewhere on the page,
    so columns are lines too.

    >>> suppress_table([[9, 3]], [12], 5, columns_known=False)
    ([[None, None]], [12])
    """
    grid = [[*row, total] for row, total in zip(cells, row_totals, strict=True)]
    hidden = [[value < threshold for value in row] for row in grid]
    lines = [[(r, c) for c in range(len(row))] for r, row in enumerate(grid)]
    if columns_known and grid:
        lines += [[(r, c) for r in range(len(grid))] for c in range(len(grid[0]))]
    while _hide_one_more(grid, hidden, lines):
        pass
    shown = [[None if hide else value for value, hide in zip(row, flags, strict=True)]
             for row, flags in zip(grid, hidden, strict=True)]
    return [row[:-1] for row in shown], [row[-1] for row in shown]


def suppress_line(counts: Sequence[int], total: int, threshold: int) -> tuple[list[Shown], Shown]:
    """A public chart's counts and their total: one row whose columns nobody knows."""
    cells, totals = suppress_table([counts], [total], threshold, columns_known=False)
    return cells[0], totals[0]


def _hide_one_more(grid: list[list[int]], hidden: list[list[bool]],
                   lines: list[list[tuple[int, int]]]) -> bool:
    for line in lines:
        secret = [cell for cell in line if hidden[cell[0]][cell[1]]]
        open_ = [cell for cell in line if not hidden[cell[0]][cell[1]]]
        if len(secret) == 1 and open_:
            # the smallest other cell; a row's total (its last cell) only if nothing else is left
            r, c = min(open_, key=lambda cell: (cell[1] == len(grid[cell[0]]) - 1,
                                                grid[cell[0]][cell[1]]))
            hidden[r][c] = True
            return True
    return False
