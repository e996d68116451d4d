"""Request dependencies shared by the API, the web pages and the unsubscribe page: the effective
settings, the engine and a database session per request."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.config_store import LiveSettings
from app.settings import Settings


# async: while the cache is fresh a plain attribute read; only a stale one costs a thread-pool hop
async def get_settings(request: Request) -> Settings:
    """The effective settings: the environment with what the settings page saved laid over it."""
    live: LiveSettings = request.app.state.live_settings
    fresh = live.fresh()
    return fresh if fresh is not None else await run_in_threadpool(live.get)


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


_READ_METHODS = {"GET", "HEAD"}


def reading(engine: Engine) -> Engine:
    """The engine for work that only reads: on SQLite its transactions do not take the write lock, so
    reads never queue behind the sending worker's writes (WAL gives them a consistent snapshot)."""
    return engine.execution_options(sqlite_read_only=True)


def get_session(request: Request, engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    # only the API's reads, whose handlers are known not to write; web pages keep the default
    api_read = request.method in _READ_METHODS and request.url.path.startswith("/api/")
    bind = reading(engine) if api_read else engine
    with Session(bind, expire_on_commit=False) as session:
        request.state.session = session  # for session_ends_before_the_answer (app/api/idempotency.py)
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]

# ids are 32-bit integers on PostgreSQL; a larger one can name nothing
MAX_ID = 2**31 - 1
Id = Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])]
