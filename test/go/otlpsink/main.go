// The lightest real OTLP receiver for the suite: OTLP/HTTP with protobuf bodies on /v1/traces,
// decoded with the OTLP project's own generated types (go.opentelemetry.io/proto/otlp) and written
// as one protojson line per request, so a test reads exactly what the exporter sent. A full
// Collector (otlp receiver + contrib file exporter, v0.161.0) took 876 s to build with an empty build
// cache on the suite's 2 shared cores; this builds in about 110 s cold and 2 s cached.
//
// Prints its listening address on the first line of stdout (-listen 127.0.0.1:0 picks a free port).
package main

import (
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	out := flag.String("out", "", "file that gets one protojson line per export request")
	flag.Parse()
	f, err := os.OpenFile(*out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	http.HandleFunc("/v1/traces", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
			http.Error(w, "only application/x-protobuf, not "+ct, http.StatusUnsupportedMediaType)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = gz
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// TracesData is ExportTraceServiceRequest on the wire (both: repeated ResourceSpans = 1, by the
		// OTLP spec's design) and its package does not pull in gRPC: a third of the cold build.
		var req tracepb.TracesData
		if err := proto.Unmarshal(raw, &req); err != nil {
			http.Error(w, "not an ExportTraceServiceRequest: "+err.Error(), http.StatusBadRequest)
			return
		}
		line, err := protojson.Marshal(&req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		// Written before the answer: once the exporter has its 200, the test can read the spans.
		mu.Lock()
		_, err = f.Write(append(line, '\n'))
		mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		// An empty body is an ExportTraceServiceResponse with no partial_success: all accepted.
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	log.Fatal(http.Serve(ln, nil))
}
