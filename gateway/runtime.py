"""The runtime: what a process needs to serve, built once at start-up and passed to handlers.

Nothing connects at import time; `build_runtime` creates clients (which connect lazily) and loads
the flows, refusing to start when a flow file has problems.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from sqlalchemy import Engine

from gateway.config import Settings, provider_problems
from gateway.db import make_engine

if TYPE_CHECKING:
    from gateway.areas import AreaTree
    from gateway.flows.model import Flow
    from gateway.flows.texts import SystemTexts


class StartupError(Exception):
    """The process must not start; the message lists every reason."""


@dataclass
class Runtime:
    settings: Settings
    redis: aioredis.Redis
    redis_sync: redis.Redis
    engine: Engine
    flows: dict[str, Flow]
    texts: SystemTexts
    areas: AreaTree | None = None  # the report flow's area menus (reports.areas_file)

    async def aclose(self) -> None:
        await self.redis.aclose()
        self.close_sync()

    def close_sync(self) -> None:
        """For processes without an event loop (the worker), which never use the async client."""
        self.redis_sync.close()
        self.engine.dispose()


def build_runtime(settings: Settings) -> Runtime:
    from gateway.areas import load_tree

    flows, texts = load_content(settings)
    if settings.redis_url is None:
        raise StartupError(
            "REDIS_URL is not set: `gateway run` starts an embedded Redis, "
            "`gateway web` and `gateway worker` need REDIS_URL"
        )
    return Runtime(
        settings=settings,
        # Short timeouts and one immediate retry (for a pooled connection that went stale): a
        # USSD hop must answer, or 503, long before the provider's 10 s.
        # A burst of hops waits for a pooled connection instead of failing: a hop holds one for
        # well under a millisecond, so 64 serve hundreds of concurrent citizens. The wait may be
        # up to 2 s on a busy machine (0.4 s failed 300 simultaneous first hops under load) and
        # is still far inside the provider's 10 s; a Redis that is down refuses the connection
        # at once. The connect timeout is for a black-holed host: 0.25 s failed connections to a
        # healthy Redis when 300 first hops kept the event loop busy on a loaded machine, and
        # the USSD hop has its own 0.5 s deadline anyway.
        redis=aioredis.Redis.from_pool(  # the client owns the pool and closes it
            aioredis.BlockingConnectionPool.from_url(
                settings.redis_url,
                max_connections=64,
                timeout=2.0,
                socket_connect_timeout=1.0,
                socket_timeout=0.5,
                retry=AsyncRetry(NoBackoff(), retries=1),
            )
        ),
        redis_sync=redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=1.0, socket_timeout=10.0
        ),
        engine=make_engine(settings.database_url),
        flows=flows,
        texts=texts,
        areas=load_tree(settings.reports.areas_file or None),
    )


def load_content(settings: Settings) -> tuple[dict[str, Flow], SystemTexts]:
    """Check and load the flows and system texts; StartupError lists every problem found."""
    from gateway.flows.check import load_checked
    from gateway.flows.loader import FlowError

    directory = Path(settings.app.flows_dir)
    if not directory.is_dir():
        raise StartupError(f"flows directory {directory} does not exist (app.flows_dir)")
    try:
        flows, texts = load_checked(
            directory, settings.languages.default, areas_file=settings.reports.areas_file
        )
    except FlowError as error:
        listed = "\n".join(str(problem) for problem in error.problems)
        raise StartupError(f"refusing to start, the flows have problems:\n{listed}") from None
    unrouted = [
        f'ussd.routes "{code}" names flow "{name}", but there is no {directory / name}.toml'
        for code, name in settings.ussd.routes.items()
        if name not in flows
    ]
    problems = unrouted + provider_problems(settings)
    if problems:
        raise StartupError("refusing to start: " + "; ".join(problems))
    return flows, texts
