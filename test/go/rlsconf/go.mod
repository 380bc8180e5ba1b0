module banyan.test/rlsconf

go 1.25

require (
	github.com/envoyproxy/go-control-plane/ratelimit v0.1.1-0.20250812085011-4cf7e8485428
	google.golang.org/protobuf v1.36.7
)
