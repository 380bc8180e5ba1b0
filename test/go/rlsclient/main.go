// Command rlsclient is grpc-go as a client of Banyan's rate limit service for the interop tests
// (test/ratelimit/interop.test.ts): it dials one address (plaintext, TLS or mTLS per the flags) on
// one ClientConn and runs the calls it reads from stdin, one JSON command per line:
//
//	{"id":"a","op":"rls","request":{...protojson RateLimitRequest...},"timeoutMs":1000,"compression":"gzip"}
//	{"id":"b","op":"check","service":"envoy.service.ratelimit.v3.RateLimitService"}
//	{"id":"c","op":"watch","service":"","updates":2}
//	{"id":"d","op":"unknown","method":"/envoy.service.ratelimit.v3.RateLimitService/Nope"}
//
// compression is gzip (grpc-go's own), deflate (zlib, as C-core's and grpc-js's), or x-unsupported (a
// name no server knows, to see the server refuse it). Commands run concurrently (each in its own goroutine, all on the one connection). Each prints one
// JSON result line when it ends: {"id","op","code","codeName","message","response","headers",
// "trailers","elapsedMs"}; a watch also prints {"id","event":"update","status"} per message received.
// It exits when stdin closes and every call has ended, which is also what happens when the test dies.
package main

import (
	"bufio"
	"compress/zlib"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // registers "gzip"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

type command struct {
	ID          string          `json:"id"`
	Op          string          `json:"op"`
	Request     json.RawMessage `json:"request"`
	TimeoutMs   int             `json:"timeoutMs"`
	Compression string          `json:"compression"`
	Service     string          `json:"service"`
	Updates     int             `json:"updates"`
	Method      string          `json:"method"`
}

type result struct {
	ID        string              `json:"id"`
	Op        string              `json:"op"`
	Code      int                 `json:"code"`
	CodeName  string              `json:"codeName"`
	Message   string              `json:"message"`
	Response  json.RawMessage     `json:"response"`
	Updates   []string            `json:"updates,omitempty"`
	Headers   map[string][]string `json:"headers"`
	Trailers  map[string][]string `json:"trailers"`
	ElapsedMs float64             `json:"elapsedMs"`
}

// Canonical status names, as grpcio and grpc-js spell them, so results compare across clients.
var codeNames = []string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
	"OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

var (
	outMu sync.Mutex
	out   = bufio.NewWriter(os.Stdout)
	pj    = protojson.MarshalOptions{UseProtoNames: true}
)

func emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"fatal": err.Error()})
	}
	outMu.Lock()
	defer outMu.Unlock()
	out.Write(b)
	out.WriteByte('\n')
	out.Flush()
}

func md(m metadata.MD) map[string][]string {
	r := map[string][]string{}
	for k, v := range m {
		r[k] = v
	}
	return r
}

func finish(r *result, start time.Time, err error, resp proto.Message, header, trailer metadata.MD) {
	r.ElapsedMs = float64(time.Since(start).Microseconds()) / 1000
	st := status.Convert(err)
	r.Code = int(st.Code())
	if int(st.Code()) < len(codeNames) {
		r.CodeName = codeNames[st.Code()]
	} else {
		r.CodeName = fmt.Sprint(st.Code())
	}
	r.Message = st.Message()
	r.Response = json.RawMessage("null")
	if err == nil && resp != nil {
		if b, e := pj.Marshal(resp); e == nil {
			r.Response = b
		} else {
			r.Message = "cannot marshal the response: " + e.Error()
			r.Code, r.CodeName = int(codes.Internal), "CLIENT_ERROR"
		}
	}
	r.Headers, r.Trailers = md(header), md(trailer)
	emit(r)
}

func ctxFor(c command) (context.Context, context.CancelFunc) {
	if c.TimeoutMs > 0 {
		return context.WithTimeout(context.Background(), time.Duration(c.TimeoutMs)*time.Millisecond)
	}
	return context.WithCancel(context.Background())
}

func run(conn *grpc.ClientConn, c command) {
	r := &result{ID: c.ID, Op: c.Op}
	// Elapsed time counts from the instant the deadline is set, so that it compares with the timeout.
	start := time.Now()
	ctx, cancel := ctxFor(c)
	defer cancel()
	var header, trailer metadata.MD
	opts := []grpc.CallOption{grpc.Header(&header), grpc.Trailer(&trailer)}
	if c.Compression != "" {
		opts = append(opts, grpc.UseCompressor(c.Compression))
	}
	switch c.Op {
	case "rls":
		req := &rlsv3.RateLimitRequest{}
		if err := protojson.Unmarshal(c.Request, req); err != nil {
			emit(map[string]string{"id": c.ID, "fatal": "bad request: " + err.Error()})
			return
		}
		resp, err := rlsv3.NewRateLimitServiceClient(conn).ShouldRateLimit(ctx, req, opts...)
		finish(r, start, err, resp, header, trailer)
	case "check":
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: c.Service}, opts...)
		finish(r, start, err, resp, header, trailer)
	case "watch":
		stream, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: c.Service})
		r.Updates = []string{}
		for err == nil && (c.Updates <= 0 || len(r.Updates) < c.Updates) {
			var m *healthpb.HealthCheckResponse
			m, err = stream.Recv()
			if err == nil {
				r.Updates = append(r.Updates, m.Status.String())
				emit(map[string]string{"id": c.ID, "event": "update", "status": m.Status.String()})
			}
		}
		if err == io.EOF {
			err = nil
		}
		if stream != nil {
			header, _ = stream.Header()
			trailer = stream.Trailer()
		}
		finish(r, start, err, nil, header, trailer)
	case "unknown":
		err := conn.Invoke(ctx, c.Method, &emptypb.Empty{}, &emptypb.Empty{}, opts...)
		finish(r, start, err, nil, header, trailer)
	default:
		emit(map[string]string{"id": c.ID, "fatal": "unknown op " + c.Op})
	}
}

// zlibCompressor is gRPC's "deflate" (a zlib stream), which grpc-go does not ship; "x-unsupported"
// is the same bytes under a name no server accepts.
type zlibCompressor struct{ name string }

func (z zlibCompressor) Compress(w io.Writer) (io.WriteCloser, error) { return zlib.NewWriter(w), nil }
func (z zlibCompressor) Decompress(r io.Reader) (io.Reader, error)    { return zlib.NewReader(r) }
func (z zlibCompressor) Name() string                                 { return z.name }

func main() {
	encoding.RegisterCompressor(zlibCompressor{"deflate"})
	encoding.RegisterCompressor(zlibCompressor{"x-unsupported"})

	address := flag.String("address", "", "host:port of the rate limit service")
	caFile := flag.String("ca", "", "PEM CA to verify the server with (TLS); empty = plaintext")
	certFile := flag.String("cert", "", "PEM client certificate (mTLS)")
	keyFile := flag.String("key", "", "PEM key of -cert")
	serverName := flag.String("server-name", "", "name to verify the server certificate for")
	flag.Parse()

	creds := insecure.NewCredentials()
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fmt.Fprintln(os.Stderr, "no certificate in", *caFile)
			os.Exit(2)
		}
		cfg := &tls.Config{RootCAs: pool, ServerName: *serverName}
		if *certFile != "" {
			pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		creds = credentials.NewTLS(cfg)
	}
	conn, err := grpc.NewClient(*address, grpc.WithTransportCredentials(creds))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer conn.Close()

	var wg sync.WaitGroup
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	for in.Scan() {
		var c command
		if len(in.Bytes()) == 0 {
			continue
		}
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			emit(map[string]string{"fatal": "bad command: " + err.Error()})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(conn, c)
		}()
	}
	wg.Wait()
}
