"""Drives odin-ws with the unmodified `centrifuge-python` SDK (JSON or protobuf) on issue 22's features.

Usage: state_client.py <json|protobuf> <ws-url> <api-url> <api-key> <prefix>
- delta: a subscription with delta=fossil on `<prefix>book:btc` gets N order-book updates that
  the `cent` API publishes (50 levels, one changes per update); reports whether every payload
  arrived equal and whether delta was negotiated.
- cache: a plain subscription on `<prefix>state:btc` (recoveryMode cache) after 3 publications
  gets the newest at once.
- tags filter: `<prefix>book:eth` with Filter.eq("side", "bid") gets only those.
Prints one JSON report.
"""
import asyncio
import json
import sys

import cent
from centrifuge import Client, DeltaType, Filter, SubscriptionEventHandler
from waiting import waiter

mode, ws_url, api_url, api_key, prefix = sys.argv[1:6]
api = cent.Client(api_url, api_key, timeout=10)
TIMEOUT = 10
N = 30


wait_for = waiter("state_client", TIMEOUT)


class Events(SubscriptionEventHandler):
    def __init__(self):
        self.data = []
        self.offsets = []
        self.subscribed = []

    async def on_subscribed(self, ctx):
        self.subscribed.append({"was_recovering": ctx.was_recovering, "recovered": ctx.recovered})

    async def on_publication(self, ctx):
        data = ctx.pub.data
        # Protobuf carries the payload as bytes of its JSON text.
        self.data.append(json.loads(data) if isinstance(data, (bytes, bytearray)) else data)
        self.offsets.append(ctx.pub.offset)


def book(n):
    levels = [{"price": f"{43000 + i * 0.5:.2f}", "size": str(n if i == n % 50 else i + 1)} for i in range(50)]
    return {"type": "book", "symbol": "BTC", "seq": n, "bids": levels}


async def main():
    report = {}
    client = Client(ws_url, use_protobuf=(mode == "protobuf"))
    await client.connect()

    ev = Events()
    sub = client.new_subscription(prefix + "book:btc", events=ev, delta=DeltaType.FOSSIL)
    await sub.subscribe()
    await wait_for(lambda: len(ev.subscribed) == 1, "delta subscription")
    report["delta_negotiated"] = sub._delta_negotiated
    sent = []
    for n in range(1, N + 1):
        sent.append(book(n))
        api.publish(cent.PublishRequest(channel=prefix + "book:btc", data=book(n)))
    await wait_for(lambda: len(ev.data) == N, f"{N} publications")
    report["delta_equal"] = ev.data == sent
    report["delta_received"] = len(ev.data)

    for i in range(1, 4):
        api.publish(cent.PublishRequest(channel=prefix + "state:btc", data={"v": i}))
    cev = Events()
    csub = client.new_subscription(prefix + "state:btc", events=cev)
    await csub.subscribe()
    await wait_for(lambda: len(cev.data) == 1, "the newest publication")
    report["cache"] = {"subscribed": cev.subscribed, "data": cev.data, "offsets": cev.offsets}

    fev = Events()
    fsub = client.new_subscription(prefix + "book:eth", events=fev, tags_filter=Filter.eq("side", "bid"))
    await fsub.subscribe()
    await wait_for(lambda: len(fev.subscribed) == 1, "filtered subscription")
    for i in range(1, 7):
        api.publish(cent.PublishRequest(channel=prefix + "book:eth", data={"i": i}, tags={"side": "bid" if i % 2 == 0 else "ask"}))
    await wait_for(lambda: len(fev.data) == 3, "3 filtered publications")
    report["filtered"] = fev.offsets
    await client.disconnect()
    print(json.dumps(report))


asyncio.run(main())
