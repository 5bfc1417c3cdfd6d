"""Administrative areas for location menus and place names: see tree.py and README.md here."""

from gateway.areas.tree import (
    BUNDLED_FILE,
    LEVELS,
    Area,
    AreaFileError,
    AreaTree,
    Level,
    default_tree,
    edit_distance,
    fold_words,
    load_tree,
)

__all__ = [
    "BUNDLED_FILE",
    "LEVELS",
    "Area",
    "AreaFileError",
    "AreaTree",
    "Level",
    "default_tree",
    "edit_distance",
    "fold_words",
    "load_tree",
]
