"""gRPC C-core (through grpcio) as a proxyless xDS client for Banyan's tests.

The same contract as test/go/xdsclient: dial an xds:/// target whose bootstrap points at Banyan, call
the JSON echo service /banyan.e2e.Echo/Who in batches, print one JSON line per batch. With --n > 0 it
runs one batch and exits; otherwise it reads one JSON command per stdin line ({"n", "concurrency",
"deadlineMs", "headers"}) and exits when stdin closes.
"""
import argparse
import json
import os
import sys
import time


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--xds", required=True, help="Banyan's xDS address, host:port")
    p.add_argument("--node", default="c-core-client")
    p.add_argument("--cluster", default="proxyless")
    p.add_argument("--target", default="xds:///orders")
    p.add_argument("--n", type=int, default=0)
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--deadline", type=int, default=5000, help="per-RPC deadline in ms")
    p.add_argument("--header", action="append", default=[], help="name=value (repeatable)")
    return p.parse_args()


def main():
    args = parse_args()
    # C-core reads the bootstrap when it creates its xDS client, i.e. on the first xds: channel;
    # a bootstrap file would win over the config.
    os.environ.pop("GRPC_XDS_BOOTSTRAP", None)
    os.environ["GRPC_XDS_BOOTSTRAP_CONFIG"] = json.dumps({
        "xds_servers": [{"server_uri": args.xds, "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
        "node": {"id": args.node, "cluster": args.cluster, "locality": {}},
    })
    import grpc  # after the environment is set

    channel = grpc.insecure_channel(args.target)
    # No serializers: requests and replies are the raw JSON bytes.
    who = channel.unary_unary("/banyan.e2e.Echo/Who")
    defaults = {
        "n": args.n,
        "concurrency": args.concurrency,
        "deadlineMs": args.deadline,
        "headers": dict(h.split("=", 1) for h in args.header),
    }

    def emit(cmd):
        sys.stdout.write(json.dumps(batch(grpc, who, {**defaults, **cmd})) + "\n")
        sys.stdout.flush()

    if args.n > 0:
        emit({})
    else:
        for line in sys.stdin:
            if line.strip():
                emit(json.loads(line))
    channel.close()


def batch(grpc, who, cmd):
    res = {"counts": {}, "errors": {}, "messages": {}}
    metadata = [(k.lower(), v) for k, v in cmd["headers"].items()]
    timeout = cmd["deadlineMs"] / 1000
    start = time.monotonic()
    left = cmd["n"]
    # Futures in windows of `concurrency`: C-core runs them on its own threads.
    while left > 0:
        window = [who.future(b"{}", timeout=timeout, metadata=metadata) for _ in range(min(left, max(1, cmd["concurrency"])))]
        left -= len(window)
        for f in window:
            try:
                backend = json.loads(f.result())["backend"]
                res["counts"][backend] = res["counts"].get(backend, 0) + 1
            except grpc.RpcError as err:
                name = err.code().name
                res["errors"][name] = res["errors"].get(name, 0) + 1
                res["messages"][name] = err.details() or ""
    res["elapsedMs"] = round((time.monotonic() - start) * 1000)
    return res


if __name__ == "__main__":
    main()
