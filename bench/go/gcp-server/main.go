// gcp-server: go-control-plane's SnapshotCache + xDS server (as Envoy Gateway and Contour use them),
// serving the resources Banyan's bench compiled, for the side-by-side rows of `npm run bench:xds`.
//
// The bench writes one JSON file per config change into -dir (<k>.json): for each type URL, the
// version (Banyan's per-type set version, so both servers push exactly the types whose content
// changed) and the resources as google.protobuf.Any bytes, exactly as Banyan sends them. Commands on
// stdin, one per line, each answered on stdout when done:
//
//	prepare <k>...  read and decode the files of these changes into snapshots  → "prepared"
//	apply <k>       SetSnapshot of a prepared change for every node             → "applied <k>"
//
// All nodes share one snapshot (the node hash is the node's cluster), the cheapest way to use the cache.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	_ "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cache "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	server "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

type typeSet struct {
	TypeURL   string   `json:"typeUrl"`
	Version   string   `json:"version"`
	Resources [][]byte `json:"resources"`
}

type change struct {
	Types []typeSet `json:"types"`
}

// clusterHash keys snapshots by node cluster: every bench proxy (cluster "bench") shares one.
type clusterHash struct{}

func (clusterHash) ID(node *core.Node) string {
	if node == nil {
		return ""
	}
	return node.GetCluster()
}

func load(dir, k string) (*cache.Snapshot, error) {
	raw, err := os.ReadFile(filepath.Join(dir, k+".json"))
	if err != nil {
		return nil, err
	}
	var c change
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s.json: %w", k, err)
	}
	snap := &cache.Snapshot{}
	for _, t := range c.Types {
		idx := cache.GetResponseType(t.TypeURL)
		if idx == types.UnknownType {
			return nil, fmt.Errorf("%s.json: unknown type %s", k, t.TypeURL)
		}
		items := make([]types.Resource, 0, len(t.Resources))
		for _, b := range t.Resources {
			a := &anypb.Any{}
			if err := proto.Unmarshal(b, a); err != nil {
				return nil, fmt.Errorf("%s.json: %s: %w", k, t.TypeURL, err)
			}
			m, err := a.UnmarshalNew()
			if err != nil {
				return nil, fmt.Errorf("%s.json: %s: %w", k, t.TypeURL, err)
			}
			items = append(items, m)
		}
		snap.Resources[idx] = cache.NewResources(t.Version, items)
	}
	if err := snap.Consistent(); err != nil {
		return nil, fmt.Errorf("%s.json: %w", k, err)
	}
	return snap, nil
}

func main() {
	dir := flag.String("dir", "", "directory of <k>.json change files")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "gcp-server: -dir is required")
		os.Exit(2)
	}
	ctx := context.Background()
	snapshots := cache.NewSnapshotCache(false, clusterHash{}, nil)
	xds := server.NewServer(ctx, snapshots, nil)
	// go-control-plane's example server sets these, and server keepalive pings every 30 s with a 5 s
	// timeout; those are left at grpc-go's defaults here, because one client process simulating
	// 3,000 proxies cannot always answer a ping within 5 s while it takes in the initial pushes, and
	// the dropped connections would never ACK.
	g := grpc.NewServer(grpc.MaxConcurrentStreams(1000000))
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(g, xds)
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gcp-server:", err)
		os.Exit(1)
	}
	go func() {
		if err := g.Serve(lis); err != nil {
			fmt.Fprintln(os.Stderr, "gcp-server:", err)
			os.Exit(1)
		}
	}()
	fmt.Printf("port %d\n", lis.Addr().(*net.TCPAddr).Port)

	prepared := map[string]*cache.Snapshot{}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "prepare":
			for _, k := range f[1:] {
				s, err := load(*dir, k)
				if err != nil {
					fmt.Fprintln(os.Stderr, "gcp-server:", err)
					os.Exit(1)
				}
				prepared[k] = s
			}
			// Decoding garbage is not the change's cost (Banyan's server also collects after preparing).
			runtime.GC()
			fmt.Println("prepared")
		case "apply":
			s, ok := prepared[f[1]]
			if !ok {
				fmt.Fprintln(os.Stderr, "gcp-server: change not prepared:", f[1])
				os.Exit(1)
			}
			delete(prepared, f[1])
			if err := snapshots.SetSnapshot(ctx, "bench", s); err != nil {
				fmt.Fprintln(os.Stderr, "gcp-server:", err)
				os.Exit(1)
			}
			fmt.Printf("applied %s\n", f[1])
		default:
			fmt.Fprintln(os.Stderr, "gcp-server: unknown command:", f[0])
			os.Exit(1)
		}
	}
	g.Stop()
}
