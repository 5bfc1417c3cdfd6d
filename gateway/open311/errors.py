"""Open311 errors: each becomes the spec's error list with its HTTP status."""

from __future__ import annotations


class Open311Error(Exception):
    """Answered as `[{"code": status, "description": ...}]` (or `<errors>` in XML)."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status = status
        self.description = description


def bad_request(description: str) -> Open311Error:
    return Open311Error(400, description)


def forbidden(description: str) -> Open311Error:
    return Open311Error(403, description)


def not_found(description: str) -> Open311Error:
    return Open311Error(404, description)
