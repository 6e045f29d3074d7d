"""One server API call through the unmodified `cent` SDK.

Usage: cent_call.py <api-url> <api-key> <method> <json-params>
method: publish, presence, presence_stats, subscribe, unsubscribe, disconnect, refresh.
Prints one JSON object: {"ok": true, "result": ...} | {"ok": false, "error": class, "code": n, "message": ...}.
"""
import json
import sys

import cent
from cent import Client

REQUESTS = {
    "publish": cent.PublishRequest,
    "presence": cent.PresenceRequest,
    "presence_stats": cent.PresenceStatsRequest,
    "subscribe": cent.SubscribeRequest,
    "unsubscribe": cent.UnsubscribeRequest,
    "disconnect": cent.DisconnectRequest,
    "refresh": cent.RefreshRequest,
}

api_url, api_key, method, params_json = sys.argv[1:5]
params = json.loads(params_json)
if method == "disconnect" and "disconnect" in params:
    params["disconnect"] = cent.Disconnect(**params["disconnect"])
client = Client(api_url, api_key, timeout=10)
request = REQUESTS[method](**params)
try:
    result = getattr(client, request.__api_method__)(request)
    out = {"ok": True, "result": result.model_dump() if hasattr(result, "model_dump") else result}
except cent.CentApiResponseError as e:
    out = {"ok": False, "error": type(e).__name__, "code": e.code, "message": e.message}
except cent.CentError as e:
    out = {"ok": False, "error": type(e).__name__, "detail": str(e)}
print(json.dumps(out, default=str))
