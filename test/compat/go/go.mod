module odin-ws/test/compat/go

go 1.21

require (
	github.com/centrifugal/centrifuge-go v0.10.2
	github.com/centrifugal/gocent/v3 v3.3.0
)

require (
	github.com/centrifugal/protocol v0.10.0 // indirect
	github.com/gorilla/websocket v1.5.0 // indirect
	github.com/josharian/intern v1.0.0 // indirect
	github.com/jpillora/backoff v1.0.0 // indirect
	github.com/mailru/easyjson v0.7.7 // indirect
	github.com/segmentio/asm v1.2.0 // indirect
	github.com/segmentio/encoding v0.3.6 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	golang.org/x/sys v0.0.0-20220829200755-d48e67d00261 // indirect
	google.golang.org/protobuf v1.30.0 // indirect
)
