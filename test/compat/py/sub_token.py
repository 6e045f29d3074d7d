"""Subscription tokens with the unmodified `centrifuge-python` SDK (JSON or protobuf).

Usage: sub_token.py <json|protobuf> <ws-url> <api-url> <api-key> <token> <channel> <sub-token>...
The subscription's get_token hands out the given tokens in order (the last again once they run
out): an expired first one (109: the SDK asks again), a short one the SDK refreshes with
sub_refresh when its ttl runs out, a long one. Then one publication must arrive. Prints one
JSON report: how often get_token was asked, subscribed/unsubscribed events, publications.
"""
import asyncio
import json
import sys

import cent
from centrifuge import Client, SubscriptionEventHandler
from waiting import waiter

mode, ws_url, api_url, api_key, token, channel = sys.argv[1:7]
tokens = sys.argv[7:]
api = cent.Client(api_url, api_key, timeout=10)
TIMEOUT = 15


wait_for = waiter("sub_token", TIMEOUT)


class Events(SubscriptionEventHandler):
    def __init__(self):
        self.subscribed = 0
        self.unsubscribed = []
        self.publications = []

    async def on_subscribed(self, ctx):
        self.subscribed += 1

    async def on_unsubscribed(self, ctx):
        self.unsubscribed.append(ctx.code)

    async def on_publication(self, ctx):
        data = ctx.pub.data
        # Protobuf hands the payload over as the bytes of its JSON text.
        self.publications.append(json.loads(data) if isinstance(data, (bytes, bytearray)) else data)


async def main():
    asked = []

    async def get_token(ch):
        asked.append(ch)
        return tokens[min(len(asked), len(tokens)) - 1]

    client = Client(ws_url, token=token, use_protobuf=(mode == "protobuf"))
    ev = Events()
    sub = client.new_subscription(channel, events=ev, get_token=get_token, min_resubscribe_delay=0.05, max_resubscribe_delay=0.2)
    await client.connect()
    await sub.subscribe()
    await wait_for(lambda: ev.subscribed == 1, "subscribed")
    await wait_for(lambda: len(asked) >= len(tokens), "refresh")
    api.publish(cent.PublishRequest(channel=channel, data={"after": "refresh"}))
    await wait_for(lambda: len(ev.publications) == 1, "publication")
    await client.disconnect()
    print(json.dumps({"asked": len(asked), "subscribed": ev.subscribed, "unsubscribed": ev.unsubscribed, "publications": ev.publications}))


asyncio.run(main())
