"""Drives odin-ws with the unmodified `centrifuge-python` SDK (JSON or protobuf).

Usage: sdk_client.py <json|protobuf> <ws-url> <api-url> <api-key> <token> <user> <channel>
Connect, subscribe with recovery, receive what `cent` publishes, history, presence, a
server-forced reconnect with publications missed meanwhile, then the get_state flow: an
unrecoverable position is refused with 112 and the SDK reloads state. Prints one JSON report.
"""
import asyncio
import json
import sys

import cent
from centrifuge import Client, StreamPosition, SubscriptionEventHandler
from waiting import waiter

mode, ws_url, api_url, api_key, token, user, channel = sys.argv[1:8]
api = cent.Client(api_url, api_key, timeout=10)
TIMEOUT = 10


wait_for = waiter("sdk_client", TIMEOUT)


class Events(SubscriptionEventHandler):
    def __init__(self):
        self.offsets = []
        self.subscribed = []
        self.errors = []

    async def on_subscribed(self, ctx):
        self.subscribed.append({"was_recovering": ctx.was_recovering, "recovered": ctx.recovered, "recoverable": ctx.recoverable})

    async def on_publication(self, ctx):
        self.offsets.append(ctx.pub.offset)

    async def on_error(self, ctx):
        self.errors.append(str(ctx.error))


def publish(ch, i):
    api.publish(cent.PublishRequest(channel=ch, data={"i": i}))


async def main():
    report = {}
    client = Client(ws_url, token=token, use_protobuf=(mode == "protobuf"), min_reconnect_delay=0.05, max_reconnect_delay=0.2)
    ev = Events()
    sub = client.new_subscription(channel, events=ev, recoverable=True, positioned=True)
    await client.connect()
    await sub.subscribe()
    await wait_for(lambda: len(ev.subscribed) == 1, "subscribed")
    for i in range(3):
        publish(channel, i)
    await wait_for(lambda: len(ev.offsets) == 3, "3 publications")
    report["history"] = len((await sub.history(limit=10)).publications)
    stats = await sub.presence_stats()
    report["presence_stats"] = {"clients": stats.num_clients, "users": stats.num_users}
    report["presence"] = len((await sub.presence()).clients)

    api.disconnect(cent.DisconnectRequest(user=user, disconnect=cent.Disconnect(code=3011, reason="force reconnect")))
    for i in range(3, 6):
        publish(channel, i)
    await wait_for(lambda: len(ev.subscribed) == 2, "resubscribe")
    publish(channel, 6)
    await wait_for(lambda: len(ev.offsets) == 7, "7 publications")
    report["offsets"] = ev.offsets
    report["subscribed"] = ev.subscribed

    # get_state: the first position handed to the SDK cannot be recovered (wrong epoch), so the
    # server refuses the subscribe with 112 and the SDK asks for state again.
    state_channel = channel.replace(".", "") + "X.trade"
    publish(state_channel, 0)
    calls = []

    async def get_state(ch):
        top = api.history(cent.HistoryRequest(channel=ch, limit=0))
        calls.append(top.offset)
        if len(calls) == 1:
            return StreamPosition(offset=top.offset, epoch="not-this-epoch")
        return StreamPosition(offset=top.offset, epoch=top.epoch)

    sev = Events()
    ssub = client.new_subscription(state_channel, events=sev, recoverable=True, positioned=True, get_state=get_state)
    await ssub.subscribe()
    await wait_for(lambda: len(sev.subscribed) == 1, "get_state subscription")
    publish(state_channel, 1)
    await wait_for(lambda: len(sev.offsets) == 1, "publication after get_state")
    report["get_state_calls"] = len(calls)
    report["get_state_subscribed"] = sev.subscribed
    report["get_state_offsets"] = sev.offsets
    await client.disconnect()
    print(json.dumps(report))


asyncio.run(main())
