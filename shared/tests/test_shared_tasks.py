import asyncio

from gateway_shared.tier.tasks import cancel


async def test_cancel_stops_a_running_task_and_waits_for_it() -> None:
    stopped = asyncio.Event()

    async def loop() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)  # let it start
    await cancel(task)
    assert task.cancelled()
    assert stopped.is_set()


async def test_cancel_of_nothing_or_a_finished_task_is_a_no_op() -> None:
    await cancel(None)
    task = asyncio.create_task(asyncio.sleep(0))
    await task
    await cancel(task)
    assert task.done()
    assert not task.cancelled()
