// Command xdsclient is grpc-go as a proxyless xDS client for Banyan's tests: it dials an xds:/// target
// whose bootstrap points at Banyan and calls the JSON echo service /banyan.e2e.Echo/Who in batches.
//
// With -n > 0 it runs one batch and exits. Otherwise it keeps the channel open and reads one JSON
// command per stdin line ({"n", "concurrency", "deadlineMs", "headers"}; absent fields take the
// flags' values), answering each with one JSON line, so a test can change routes between batches
// without a reconnect. It exits when stdin closes, which is also what happens when the test dies.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	_ "google.golang.org/grpc/xds" // registers the xds:/// resolver and xDS balancers
)

type command struct {
	N           int               `json:"n"`
	Concurrency int               `json:"concurrency"`
	DeadlineMs  int               `json:"deadlineMs"`
	Headers     map[string]string `json:"headers"`
}

// result is the shape every client helper of the suite prints (see test/clients/driver.ts).
type result struct {
	Counts    map[string]int    `json:"counts"`
	Errors    map[string]int    `json:"errors"`
	Messages  map[string]string `json:"messages"`
	ElapsedMs int64             `json:"elapsedMs"`
}

// rawCodec passes the JSON bytes through, so the helper needs no generated code. Named "proto" so
// the content-type stays application/grpc+proto, which every server accepts.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// Canonical status names, as grpcio and grpc-js spell them, so results compare across clients.
var codeNames = []string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
	"OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

type headerFlags map[string]string

func (h headerFlags) String() string { return fmt.Sprint(map[string]string(h)) }
func (h headerFlags) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("header %q is not name=value", kv)
	}
	h[strings.ToLower(k)] = v
	return nil
}

func main() {
	xdsServer := flag.String("xds", "", "Banyan's xDS address, host:port")
	nodeID := flag.String("node", "grpc-go-client", "xDS node id")
	nodeCluster := flag.String("cluster", "proxyless", "xDS node cluster (what Banyan's groups match)")
	target := flag.String("target", "xds:///orders", "the target to dial")
	n := flag.Int("n", 0, "RPCs in one batch, then exit; 0 reads commands from stdin")
	concurrency := flag.Int("concurrency", 20, "RPCs in flight at once")
	deadlineMs := flag.Int("deadline", 5000, "per-RPC deadline in ms")
	headers := headerFlags{}
	flag.Var(headers, "header", "request metadata name=value (repeatable)")
	xdsCA := flag.String("xds-ca", "", "CA bundle the xDS server is verified against: TLS channel creds in the bootstrap (gRFC A65)")
	xdsCert := flag.String("xds-cert", "", "client certificate for mTLS to the xDS server (with -xds-ca and -xds-key)")
	xdsKey := flag.String("xds-key", "", "private key of -xds-cert")
	flag.Parse()
	if *xdsServer == "" {
		fail("-xds is required")
	}

	channelCreds := map[string]any{"type": "insecure"}
	if *xdsCA != "" {
		// grpc-go registers the "tls" channel credentials of xds/bootstrap itself (gRFC A65)
		tlsConfig := map[string]any{"ca_certificate_file": *xdsCA}
		if *xdsCert != "" {
			tlsConfig["certificate_file"] = *xdsCert
			tlsConfig["private_key_file"] = *xdsKey
		}
		channelCreds = map[string]any{"type": "tls", "config": tlsConfig}
	}
	bootstrap, _ := json.Marshal(map[string]any{
		"xds_servers": []any{map[string]any{
			"server_uri":      *xdsServer,
			"channel_creds":   []any{channelCreds},
			"server_features": []string{"xds_v3"},
		}},
		"node": map[string]any{"id": *nodeID, "cluster": *nodeCluster, "locality": map[string]any{}},
	})
	// grpc-go reads its bootstrap variables when its packages initialise, before main: so set it
	// and start again in the same process (same pid, same process group).
	if os.Getenv("GRPC_XDS_BOOTSTRAP_CONFIG") != string(bootstrap) {
		self, err := os.Executable()
		if err != nil {
			fail(err.Error())
		}
		env := []string{"GRPC_XDS_BOOTSTRAP_CONFIG=" + string(bootstrap)}
		for _, kv := range os.Environ() {
			// A bootstrap file would win over the config.
			if !strings.HasPrefix(kv, "GRPC_XDS_BOOTSTRAP") {
				env = append(env, kv)
			}
		}
		fail(syscall.Exec(self, os.Args, env).Error())
	}

	conn, err := grpc.NewClient(*target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fail(err.Error())
	}
	defer conn.Close()

	defaults := command{N: *n, Concurrency: *concurrency, DeadlineMs: *deadlineMs, Headers: headers}
	out := json.NewEncoder(os.Stdout)
	if *n > 0 {
		out.Encode(batch(conn, defaults))
		return
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd := defaults
		cmd.Headers = nil // json would merge into the defaults' map
		if err := json.Unmarshal(in.Bytes(), &cmd); err != nil {
			fail(fmt.Sprintf("bad command %q: %v", in.Text(), err))
		}
		if cmd.Headers == nil {
			cmd.Headers = defaults.Headers
		}
		out.Encode(batch(conn, cmd))
	}
}

func batch(conn *grpc.ClientConn, cmd command) result {
	res := result{Counts: map[string]int{}, Errors: map[string]int{}, Messages: map[string]string{}}
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < max(1, cmd.Concurrency); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(cmd.N) {
				backend, err := who(conn, cmd)
				mu.Lock()
				if err != nil {
					st := status.Convert(err)
					name := codeNames[st.Code()]
					res.Errors[name]++
					res.Messages[name] = st.Message()
				} else {
					res.Counts[backend]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.ElapsedMs = time.Since(start).Milliseconds()
	return res
}

func who(conn *grpc.ClientConn, cmd command) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cmd.DeadlineMs)*time.Millisecond)
	defer cancel()
	if len(cmd.Headers) > 0 {
		ctx = metadata.NewOutgoingContext(ctx, metadata.New(cmd.Headers))
	}
	req, reply := []byte("{}"), []byte(nil)
	if err := conn.Invoke(ctx, "/banyan.e2e.Echo/Who", &req, &reply, grpc.ForceCodec(rawCodec{})); err != nil {
		return "", err
	}
	var body struct {
		Backend string `json:"backend"`
	}
	if err := json.Unmarshal(reply, &body); err != nil {
		return "", status.Errorf(13, "bad echo reply %q: %v", reply, err)
	}
	return body.Backend, nil
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "xdsclient:", msg)
	os.Exit(2)
}
