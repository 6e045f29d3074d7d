module odin-ws/test/compat/go

go 1.21

require (
	github.com/centrifugal/centrifuge-go v0.10.2
	github.com/centrifugal/gocent/v3 v3.3.0
)
