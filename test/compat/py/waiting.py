"""The drivers' one wait: poll a condition every 10 ms; on timeout exit naming the driver and what it awaited."""
import asyncio


def waiter(driver, timeout):
    """`wait_for(cond, what)` for `driver`, giving up after `timeout` seconds."""

    async def wait_for(cond, what):
        async def loop():
            while not cond():
                await asyncio.sleep(0.01)
        try:
            await asyncio.wait_for(loop(), timeout)
        except asyncio.TimeoutError:
            raise SystemExit(f"{driver}: timed out waiting for {what}")

    return wait_for
