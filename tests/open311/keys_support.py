"""API keys for the Open311 tests, stored the way `gateway apikey add` stores them."""

from __future__ import annotations

import hashlib
import secrets

from sqlmodel import Session

from gateway.config import Settings
from gateway.db import make_engine


def add_api_key(settings: Settings, name: str, *, revoked: bool = False) -> str:
    from gateway.models import ApiKey

    token = secrets.token_urlsafe(24)
    digest = hashlib.sha256(token.encode()).hexdigest()
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        session.add(ApiKey(name=name, key_hash=digest, revoked=revoked))
        session.commit()
    engine.dispose()
    return token
