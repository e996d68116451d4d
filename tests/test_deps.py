"""The effective settings of a request when their cache expires under load: one request re-reads them,
the others in flight go on with the value that just expired, and a save in this process is never
answered with the value from before it."""

import asyncio
import threading
from types import SimpleNamespace

from app.config_store import LiveSettings, save_settings
from app.deps import get_settings, once_in_threadpool


def test_one_call_serves_every_concurrent_caller_with_the_same_key():
    calls: list[int] = []
    release = threading.Event()

    def work() -> int:
        calls.append(1)
        release.wait(10)
        return 42

    async def main() -> list[int]:
        waiting = [asyncio.ensure_future(once_in_threadpool("k", work)) for _ in range(20)]
        await asyncio.sleep(0.1)
        release.set()
        return await asyncio.gather(*waiting)

    assert asyncio.run(main()) == [42] * 20
    assert calls == [1]


def test_requests_go_on_with_the_expired_settings_while_one_rereads_them_but_never_after_a_save(settings, engine):
    live = LiveSettings(settings.model_copy(update={"settings_cache_seconds": 0}), engine)
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(live_settings=live)))
    reading = threading.Event()
    release = threading.Event()
    read = live.get

    def slow_read() -> object:
        reading.set()
        release.wait(10)
        return read()

    async def main() -> None:
        first = await get_settings(request)  # type: ignore[arg-type]
        assert first.soft_bounce_threshold == 3
        live.get = slow_read  # type: ignore[method-assign]
        rereading = asyncio.ensure_future(get_settings(request))  # type: ignore[arg-type]
        await asyncio.to_thread(reading.wait, 10)
        # expired and being re-read: the others get the last value without waiting
        assert await asyncio.wait_for(get_settings(request), 1) is first  # type: ignore[arg-type]
        save_settings(engine, {"soft_bounce_threshold": 1})
        # after a save in this process no request is answered from before it, even while a read is running
        after_save = asyncio.ensure_future(get_settings(request))  # type: ignore[arg-type]
        await asyncio.sleep(0.2)
        assert not after_save.done()
        release.set()
        await rereading
        assert (await after_save).soft_bounce_threshold == 1

    asyncio.run(main())
