"""Request dependencies shared by the API, the web pages and the unsubscribe page: the effective
settings, the engine and a database session per request."""

import asyncio
import ipaddress
from collections.abc import Callable, Hashable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Request
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.config_store import LiveSettings
from app.models.types import MAX_ID
from app.settings import Settings

T = TypeVar("T")


_in_flight: dict[tuple[asyncio.AbstractEventLoop, Hashable], asyncio.Future[Any]] = {}


def in_flight(key: Hashable) -> bool:
    """Whether `once_in_threadpool` is running for this key on this event loop."""
    return (asyncio.get_running_loop(), key) in _in_flight


async def once_in_threadpool(key: Hashable, func: Callable[..., T], *args: Any) -> T:
    """`func(*args)` in the thread pool, run once for all the requests of this event loop that ask with
    the same key while it runs: they all get its result (or its exception)."""
    ident = (asyncio.get_running_loop(), key)
    future = _in_flight.get(ident)
    if future is None:
        future = _in_flight[ident] = asyncio.ensure_future(run_in_threadpool(func, *args))
        future.add_done_callback(lambda _: _in_flight.pop(ident, None))
    result: T = await asyncio.shield(future)
    return result


# async: while the cache is fresh a plain attribute read; only a stale one costs a thread-pool hop
async def get_settings(request: Request) -> Settings:
    """The effective settings: the environment with what the settings page saved laid over it. When the
    cache expires, one request re-reads it while the others in flight meanwhile go on with the value
    that just expired (not after a save in this process: that one is waited for)."""
    live: LiveSettings = request.app.state.live_settings
    fresh = live.fresh()
    if fresh is not None:
        return fresh
    reread = (live, live.generation())
    if in_flight(reread) and (last := live.last()) is not None:
        return last
    return await once_in_threadpool(reread, live.get)


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


# set by a reverse proxy: the request then comes from elsewhere, whatever the socket says (and uvicorn
# would have put the header's address in request.client)
_PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def from_this_machine(request: Request) -> bool:
    """The socket's peer is a loopback address and no proxy stands between (the first-run page, /metrics)."""
    if request.client is None or any(h in request.headers for h in _PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


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
        request.state.session = session  # the Idempotency middleware ends it before storing the answer
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]

# ids are 32-bit integers on PostgreSQL; a larger one can name nothing
Id = Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])]
