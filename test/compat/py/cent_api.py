"""Drives odin-ws's server API with the unmodified `cent` SDK: every method cent offers, once.

Usage: cent_api.py <api-url> <api-key> <channel> <unknown-channel>
Prints one JSON object: method -> {"ok": true, "result": ...} | {"ok": false, "error": class, "code": n}.
test/compat/python-sdk.test.ts asserts on it.
"""
import json
import sys

import cent
from cent import Client

api_url, api_key, channel, unknown = sys.argv[1:5]
client = Client(api_url, api_key, timeout=10)
report = {}


def record(name, request):
    try:
        result = getattr(client, request.__api_method__)(request)
        report[name] = {"ok": True, "result": result.model_dump() if hasattr(result, "model_dump") else result}
    except cent.CentApiResponseError as e:
        report[name] = {"ok": False, "error": type(e).__name__, "code": e.code, "message": e.message}
    except cent.CentError as e:
        report[name] = {"ok": False, "error": type(e).__name__, "detail": str(e)}


data = {"price": 1}
record("publish", cent.PublishRequest(channel=channel, data=data, tags={"type": "trade:new"}, idempotency_key="k1"))
record("publish_unknown_channel", cent.PublishRequest(channel=unknown, data=data))
record("publish_skip_history", cent.PublishRequest(channel=channel, data={"price": 2}, skip_history=True))
record("publish_b64data", cent.PublishRequest(channel=channel, data=None, b64data="AAE="))
record("broadcast", cent.BroadcastRequest(channels=[channel, unknown], data=data))
record("history", cent.HistoryRequest(channel=channel, limit=10))
record("history_reverse", cent.HistoryRequest(channel=channel, limit=-1, reverse=True))
record("presence", cent.PresenceRequest(channel=channel))
record("presence_stats", cent.PresenceStatsRequest(channel=channel))
record("channels", cent.ChannelsRequest())
record("channels_pattern", cent.ChannelsRequest(pattern="*.none-such"))
record("info", cent.InfoRequest())
record("subscribe", cent.SubscribeRequest(user="nobody", channel=channel))
record("unsubscribe", cent.UnsubscribeRequest(user="nobody", channel=channel))
record("disconnect", cent.DisconnectRequest(user="nobody", disconnect=cent.Disconnect(code=4000, reason="bye")))
record("refresh", cent.RefreshRequest(user="nobody", expire_at=4102444800))
# cent parses batch replies by method name and cannot read an error reply (with Centrifugo too),
# so its batch gets commands that succeed; per-item errors are covered by gocent's pipe.
record("batch", cent.BatchRequest(requests=[cent.PublishRequest(channel=channel, data={"b": 1}), cent.PresenceStatsRequest(channel=channel)]))
record("history_remove", cent.HistoryRemoveRequest(channel=channel))
record("history_after_remove", cent.HistoryRequest(channel=channel, limit=10))
# Centrifugo PRO methods: refused with a clear API error, not a transport error.
record("connections", cent.ConnectionsRequest(user="nobody", expression=""))
record("block_user", cent.BlockUserRequest(user="nobody"))
record("get_user_status", cent.GetUserStatusRequest(users=["nobody"]))
record("device_list", cent.DeviceListRequest())
print(json.dumps(report, default=str))
