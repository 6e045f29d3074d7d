// Command go-compat drives odin-ws with unmodified Centrifugo Go packages (gocent v3 for the
// server API, centrifuge-go for the client protocol, JSON or protobuf) and prints what it saw
// as one JSON object on stdout. test/compat/*.test.ts run it and assert on that report.
//
//	go-compat api <api-url> <api-key> <channel> <unknown-channel>
//	go-compat client <json|protobuf> <ws-url> <api-url> <api-key> <token> <user> <channel> <server-channel>
//	go-compat delta <json|protobuf> <ws-url> <api-url> <api-key> <channel> <n>
//	go-compat subtoken <json|protobuf> <ws-url> <api-url> <api-key> <token> <channel> <sub-token>...
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/centrifugal/centrifuge-go"
	"github.com/centrifugal/gocent/v3"
)

const timeout = 10 * time.Second

type report map[string]any

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "go-compat: "+format+"\n", args...)
	os.Exit(1)
}

// outcome records a gocent call: its result, or the API error code (a transport error fails the run).
func outcome(r report, name string, result any, err error) {
	var apiErr gocent.Error
	var e *gocent.Error
	switch {
	case err == nil:
		r[name] = map[string]any{"ok": true, "result": result}
	case errors.As(err, &apiErr):
		r[name] = map[string]any{"ok": false, "code": apiErr.Code, "message": apiErr.Message}
	case errors.As(err, &e):
		r[name] = map[string]any{"ok": false, "code": e.Code, "message": e.Message}
	default:
		r[name] = map[string]any{"ok": false, "transport": err.Error()}
	}
}

func apiClient(url, key string) *gocent.Client {
	return gocent.New(gocent.Config{Addr: strings.TrimRight(url, "/") + "/api", Key: key})
}

// runAPI calls every method gocent offers, each once at least, and a pipe.
func runAPI(url, key, channel, unknown string) report {
	c := apiClient(url, key)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r := report{}
	data := []byte(`{"price":1}`)
	res, err := c.Publish(ctx, channel, data)
	outcome(r, "publish", res, err)
	_, err = c.Publish(ctx, unknown, data)
	outcome(r, "publish_unknown_channel", nil, err)
	res, err = c.Publish(ctx, channel, []byte(`{"price":2}`), gocent.WithSkipHistory(true))
	outcome(r, "publish_skip_history", res, err)
	b, err := c.Broadcast(ctx, []string{channel, unknown}, data)
	outcome(r, "broadcast", b, err)
	h, err := c.History(ctx, channel, gocent.WithLimit(10))
	outcome(r, "history", h, err)
	if err == nil {
		hs, err := c.History(ctx, channel, gocent.WithLimit(gocent.NoLimit), gocent.WithSince(&gocent.StreamPosition{Offset: 0, Epoch: h.Epoch}), gocent.WithReverse(true))
		outcome(r, "history_since_reverse", hs, err)
	}
	p, err := c.Presence(ctx, channel)
	outcome(r, "presence", p, err)
	ps, err := c.PresenceStats(ctx, channel)
	outcome(r, "presence_stats", ps, err)
	ch, err := c.Channels(ctx)
	outcome(r, "channels", ch, err)
	chp, err := c.Channels(ctx, gocent.WithPattern("*.none-such"))
	outcome(r, "channels_pattern", chp, err)
	info, err := c.Info(ctx)
	outcome(r, "info", info, err)
	outcome(r, "subscribe", nil, c.Subscribe(ctx, channel, "nobody"))
	outcome(r, "unsubscribe", nil, c.Unsubscribe(ctx, channel, "nobody"))
	outcome(r, "disconnect", nil, c.Disconnect(ctx, "nobody", gocent.WithDisconnect(&gocent.Disconnect{Code: 4000, Reason: "bye"})))
	outcome(r, "history_remove", nil, c.HistoryRemove(ctx, channel))
	h2, err := c.History(ctx, channel, gocent.WithLimit(10))
	outcome(r, "history_after_remove", h2, err)

	pipe := c.Pipe()
	_ = pipe.AddPublish(channel, []byte(`{"pipe":1}`))
	_ = pipe.AddPublish(unknown, []byte(`{"pipe":2}`))
	_ = pipe.AddPresenceStats(channel)
	_ = pipe.AddInfo()
	replies, err := c.SendPipe(ctx, pipe)
	if err != nil {
		r["pipe"] = map[string]any{"transport": err.Error()}
	} else {
		out := make([]map[string]any, 0, len(replies))
		for _, rep := range replies {
			m := map[string]any{"result": rep.Result}
			if rep.Error != nil {
				m = map[string]any{"code": rep.Error.Code}
			}
			out = append(out, m)
		}
		r["pipe"] = out
	}
	return r
}

type events struct {
	mu         sync.Mutex
	offsets    []uint64
	subscribed []map[string]any
	server     []string
	serverPubs int
	got        chan struct{}
}

func (e *events) note() {
	select {
	case e.got <- struct{}{}:
	default:
	}
}

// waitFor polls cond on every event (and every 20 ms) until it holds or the timeout.
func (e *events) waitFor(what string, cond func() bool) {
	deadline := time.After(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		e.mu.Lock()
		ok := cond()
		e.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-e.got:
		case <-tick.C:
		case <-deadline:
			fail("timed out waiting for %s", what)
		}
	}
}

// subscribeAndConnect subscribes (sent once connected), connects, and waits for the first
// subscribed event.
func subscribeAndConnect(c *centrifuge.Client, sub *centrifuge.Subscription, e *events) {
	if err := sub.Subscribe(); err != nil {
		fail("subscribe: %v", err)
	}
	if err := c.Connect(); err != nil {
		fail("connect: %v", err)
	}
	e.waitFor("subscribed", func() bool { return len(e.subscribed) == 1 })
}

// runClient: connect, subscribe with recovery, receive, history, presence, a server-forced
// reconnect with publications missed meanwhile (recovered), and a server-side subscription.
func runClient(mode, wsURL, apiURL, key, token, user, channel, serverChannel string) report {
	cfg := centrifuge.Config{Token: token}
	var c *centrifuge.Client
	if mode == "protobuf" {
		c = centrifuge.NewProtobufClient(wsURL, cfg)
	} else {
		c = centrifuge.NewJsonClient(wsURL, cfg)
	}
	defer c.Close()
	e := &events{got: make(chan struct{}, 1)}
	c.OnSubscribed(func(ev centrifuge.ServerSubscribedEvent) {
		e.mu.Lock()
		e.server = append(e.server, ev.Channel)
		e.mu.Unlock()
		e.note()
	})
	c.OnPublication(func(ev centrifuge.ServerPublicationEvent) {
		e.mu.Lock()
		e.serverPubs++
		e.mu.Unlock()
		e.note()
	})
	sub, err := c.NewSubscription(channel, centrifuge.SubscriptionConfig{Recoverable: true, Positioned: true})
	if err != nil {
		fail("new subscription: %v", err)
	}
	sub.OnPublication(func(ev centrifuge.PublicationEvent) {
		e.mu.Lock()
		e.offsets = append(e.offsets, ev.Offset)
		e.mu.Unlock()
		e.note()
	})
	sub.OnSubscribed(func(ev centrifuge.SubscribedEvent) {
		e.mu.Lock()
		e.subscribed = append(e.subscribed, map[string]any{"was_recovering": ev.WasRecovering, "recovered": ev.Recovered, "recoverable": ev.Recoverable})
		e.mu.Unlock()
		e.note()
	})
	subscribeAndConnect(c, sub, e)

	api := apiClient(apiURL, key)
	ctx, cancel := context.WithTimeout(context.Background(), 3*timeout)
	defer cancel()
	publish := func(i int) {
		if _, err := api.Publish(ctx, channel, []byte(fmt.Sprintf(`{"i":%d}`, i))); err != nil {
			fail("publish %d: %v", i, err)
		}
	}
	for i := 0; i < 3; i++ {
		publish(i)
	}
	e.waitFor("3 publications", func() bool { return len(e.offsets) == 3 })
	r := report{}
	h, err := sub.History(ctx, centrifuge.WithHistoryLimit(10))
	if err != nil {
		fail("history: %v", err)
	}
	r["history"] = len(h.Publications)
	ps, err := sub.PresenceStats(ctx)
	if err != nil {
		r["presence_stats_error"] = err.Error()
	} else {
		r["presence_stats"] = map[string]any{"clients": ps.NumClients, "users": ps.NumUsers}
	}
	p, err := sub.Presence(ctx)
	if err != nil {
		r["presence_error"] = err.Error()
	} else {
		r["presence"] = len(p.Clients)
	}

	// The server drops the connection with a reconnect code; publications go on meanwhile.
	if err := api.Disconnect(ctx, user, gocent.WithDisconnect(&gocent.Disconnect{Code: 3011, Reason: "force reconnect", Reconnect: true})); err != nil {
		fail("api disconnect: %v", err)
	}
	for i := 3; i < 6; i++ {
		publish(i)
	}
	e.waitFor("resubscribe", func() bool { return len(e.subscribed) == 2 })
	publish(6)
	e.waitFor("7 publications", func() bool { return len(e.offsets) == 7 })

	// Server-side subscription through the API, then a publication there.
	if err := api.Subscribe(ctx, serverChannel, user); err != nil {
		fail("api subscribe: %v", err)
	}
	e.waitFor("server-side subscribe", func() bool { return len(e.server) == 1 })
	if _, err := api.Publish(ctx, serverChannel, []byte(`{"server":true}`)); err != nil {
		fail("publish server channel: %v", err)
	}
	e.waitFor("server-side publication", func() bool { return e.serverPubs == 1 })

	e.mu.Lock()
	r["offsets"] = e.offsets
	r["subscribed"] = e.subscribed
	r["server_subscribed"] = e.server
	r["server_publications"] = e.serverPubs
	e.mu.Unlock()
	return r
}

// book is an order book of 50 levels in which update n moves one level.
func book(n int) []byte {
	levels := make([]map[string]string, 50)
	for i := range levels {
		size := i + 1
		if i == n%50 {
			size = n
		}
		levels[i] = map[string]string{"price": fmt.Sprintf("%.2f", 43000+float64(i)*0.5), "size": fmt.Sprint(size)}
	}
	b, _ := json.Marshal(map[string]any{"type": "book", "symbol": "BTC", "seq": n, "bids": levels})
	return b
}

// runDelta: a subscription with Fossil delta gets n order-book updates; reports whether every
// payload arrived byte for byte as published.
func runDelta(mode, wsURL, apiURL, key, channel string, n int) report {
	var c *centrifuge.Client
	if mode == "protobuf" {
		c = centrifuge.NewProtobufClient(wsURL, centrifuge.Config{})
	} else {
		c = centrifuge.NewJsonClient(wsURL, centrifuge.Config{})
	}
	defer c.Close()
	e := &events{got: make(chan struct{}, 1)}
	var got [][]byte
	sub, err := c.NewSubscription(channel, centrifuge.SubscriptionConfig{Delta: centrifuge.DeltaTypeFossil})
	if err != nil {
		fail("new subscription: %v", err)
	}
	sub.OnPublication(func(ev centrifuge.PublicationEvent) {
		e.mu.Lock()
		got = append(got, append([]byte(nil), ev.Data...))
		e.mu.Unlock()
		e.note()
	})
	sub.OnSubscribed(func(ev centrifuge.SubscribedEvent) {
		e.mu.Lock()
		e.subscribed = append(e.subscribed, map[string]any{"recoverable": ev.Recoverable})
		e.mu.Unlock()
		e.note()
	})
	subscribeAndConnect(c, sub, e)
	api := apiClient(apiURL, key)
	ctx, cancel := context.WithTimeout(context.Background(), 3*timeout)
	defer cancel()
	for i := 1; i <= n; i++ {
		if _, err := api.Publish(ctx, channel, book(i)); err != nil {
			fail("publish %d: %v", i, err)
		}
	}
	e.waitFor("every publication", func() bool { return len(got) == n })
	equal := 0
	e.mu.Lock()
	for i, d := range got {
		if string(d) == string(book(i+1)) {
			equal++
		}
	}
	e.mu.Unlock()
	return report{"received": len(got), "equal": equal}
}

// runSubToken subscribes to a channel that needs a subscription token: GetToken hands out the
// given tokens in order (the last one again once they run out), so an expired first token, a
// short one the SDK must refresh (sub_refresh) and a long one show the whole flow; then one
// publication must arrive. Reports how often GetToken was asked and what the subscription saw.
func runSubToken(mode, wsURL, apiURL, key, token, channel string, tokens []string) report {
	cfg := centrifuge.Config{Token: token}
	var c *centrifuge.Client
	if mode == "protobuf" {
		c = centrifuge.NewProtobufClient(wsURL, cfg)
	} else {
		c = centrifuge.NewJsonClient(wsURL, cfg)
	}
	defer c.Close()
	e := &events{got: make(chan struct{}, 1)}
	asked := 0
	unsubscribed := []uint32{}
	sub, err := c.NewSubscription(channel, centrifuge.SubscriptionConfig{
		GetToken: func(centrifuge.SubscriptionTokenEvent) (string, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			t := tokens[min(asked, len(tokens)-1)]
			asked++
			e.note()
			return t, nil
		},
	})
	if err != nil {
		fail("new subscription: %v", err)
	}
	sub.OnSubscribed(func(centrifuge.SubscribedEvent) {
		e.mu.Lock()
		e.subscribed = append(e.subscribed, map[string]any{})
		e.mu.Unlock()
		e.note()
	})
	sub.OnUnsubscribed(func(ev centrifuge.UnsubscribedEvent) {
		e.mu.Lock()
		unsubscribed = append(unsubscribed, ev.Code)
		e.mu.Unlock()
		e.note()
	})
	sub.OnPublication(func(ev centrifuge.PublicationEvent) {
		e.mu.Lock()
		e.offsets = append(e.offsets, ev.Offset)
		e.mu.Unlock()
		e.note()
	})
	subscribeAndConnect(c, sub, e)
	// The short token's ttl runs out: the SDK asks for the next token and sends sub_refresh.
	e.waitFor("refresh", func() bool { return asked >= len(tokens) })
	api := apiClient(apiURL, key)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := api.Publish(ctx, channel, []byte(`{"after":"refresh"}`)); err != nil {
		fail("publish: %v", err)
	}
	e.waitFor("publication", func() bool { return len(e.offsets) == 1 })
	e.mu.Lock()
	defer e.mu.Unlock()
	return report{"asked": asked, "subscribed": len(e.subscribed), "publications": len(e.offsets), "unsubscribed": unsubscribed}
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: go-compat api|client ...")
	}
	var r report
	switch a := os.Args[1:]; a[0] {
	case "api":
		if len(a) != 5 {
			fail("usage: go-compat api <api-url> <api-key> <channel> <unknown-channel>")
		}
		r = runAPI(a[1], a[2], a[3], a[4])
	case "client":
		if len(a) != 9 {
			fail("usage: go-compat client <json|protobuf> <ws-url> <api-url> <api-key> <token> <user> <channel> <server-channel>")
		}
		r = runClient(a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8])
	case "subtoken":
		if len(a) < 8 {
			fail("usage: go-compat subtoken <json|protobuf> <ws-url> <api-url> <api-key> <token> <channel> <sub-token>...")
		}
		r = runSubToken(a[1], a[2], a[3], a[4], a[5], a[6], a[7:])
	case "delta":
		if len(a) != 7 {
			fail("usage: go-compat delta <json|protobuf> <ws-url> <api-url> <api-key> <channel> <n>")
		}
		var n int
		if _, err := fmt.Sscan(a[6], &n); err != nil || n < 1 {
			fail("n: a positive integer")
		}
		r = runDelta(a[1], a[2], a[3], a[4], a[5], n)
	default:
		fail("unknown command %q", a[0])
	}
	out, err := json.Marshal(r)
	if err != nil {
		fail("encode report: %v", err)
	}
	fmt.Println(string(out))
}
