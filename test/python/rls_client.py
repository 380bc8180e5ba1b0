"""gRPC C-core (through grpcio) as a client of Banyan's rate limit service for the interop tests.

The same contract as test/go/rlsclient: one channel to --address (plaintext, TLS or mTLS), and one
JSON command per stdin line ({"id", "op": "rls"|"check"|"watch"|"unknown", "request", "timeoutMs",
"compression": "gzip"|"deflate", "service", "updates", "method"}), run concurrently on that channel, each answered with one
JSON line {"id", "op", "code", "codeName", "message", "response", "headers", "trailers",
"elapsedMs"} (a watch also prints {"id", "event": "update", "status"} per message). It exits when
stdin closes and every call has ended.

No generated code is kept: --descriptors is a FileDescriptorSet (protoc --include_imports) of
envoy/service/ratelimit/v3/rls.proto and grpc/health/v1 health.proto that the test compiles with
grpcio-tools from the protos @grpc/grpc-js-xds and grpc-health-check ship; messages are built from it
with the protobuf runtime.
"""
import argparse
import json
import sys
import threading
import time

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

RLS_METHOD = "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit"
CHECK_METHOD = "/grpc.health.v1.Health/Check"
WATCH_METHOD = "/grpc.health.v1.Health/Watch"

out_lock = threading.Lock()


def emit(obj):
    line = json.dumps(obj, ensure_ascii=False)
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def load_types(path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    cls = lambda name: message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
    return {
        "RateLimitRequest": cls("envoy.service.ratelimit.v3.RateLimitRequest"),
        "RateLimitResponse": cls("envoy.service.ratelimit.v3.RateLimitResponse"),
        "HealthCheckRequest": cls("grpc.health.v1.HealthCheckRequest"),
        "HealthCheckResponse": cls("grpc.health.v1.HealthCheckResponse"),
    }


def metadata_dict(md):
    d = {}
    for k, v in md or ():
        d.setdefault(k, []).append(v if isinstance(v, str) else v.decode("latin-1"))
    return d


def to_json(msg):
    return json_format.MessageToDict(msg, preserving_proto_field_name=True)


class Client:
    def __init__(self, channel, types):
        self.types = types
        T = types
        self.rls = channel.unary_unary(RLS_METHOD, request_serializer=lambda m: m.SerializeToString(), response_deserializer=T["RateLimitResponse"].FromString)
        self.check = channel.unary_unary(CHECK_METHOD, request_serializer=lambda m: m.SerializeToString(), response_deserializer=T["HealthCheckResponse"].FromString)
        self.watch = channel.unary_stream(WATCH_METHOD, request_serializer=lambda m: m.SerializeToString(), response_deserializer=T["HealthCheckResponse"].FromString)
        self.channel = channel
        self.pending = 0
        self.cond = threading.Condition()

    def started(self):
        with self.cond:
            self.pending += 1

    def ended(self):
        with self.cond:
            self.pending -= 1
            self.cond.notify_all()

    def wait_all(self):
        with self.cond:
            while self.pending:
                self.cond.wait()

    def result(self, cmd, start, call, response=None, error=None, updates=None):
        r = {"id": cmd.get("id"), "op": cmd.get("op"), "elapsedMs": (time.monotonic() - start) * 1000}
        code = error.code() if error is not None else grpc.StatusCode.OK
        r["code"] = code.value[0]
        r["codeName"] = code.name
        r["message"] = (error.details() or "") if error is not None else ""
        r["response"] = to_json(response) if response is not None and error is None else None
        if updates is not None:
            r["updates"] = updates
        src = error if error is not None else call
        try:
            r["headers"] = metadata_dict(src.initial_metadata()) if src is not None else {}
            r["trailers"] = metadata_dict(src.trailing_metadata()) if src is not None else {}
        except Exception:  # an error raised before any call object existed
            r["headers"], r["trailers"] = {}, {}
        emit(r)
        self.ended()

    def run(self, cmd):
        op = cmd.get("op")
        timeout = cmd["timeoutMs"] / 1000 if cmd.get("timeoutMs") else None
        compression = {None: None, "gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate}[cmd.get("compression")]
        T = self.types
        self.started()
        start = time.monotonic()
        if op == "rls":
            req = json_format.ParseDict(cmd.get("request") or {}, T["RateLimitRequest"]())
            self.unary(self.rls, req, cmd, start, timeout, compression)
        elif op == "check":
            self.unary(self.check, T["HealthCheckRequest"](service=cmd.get("service", "")), cmd, start, timeout, compression)
        elif op == "unknown":
            # No serializers: the request is an empty message (zero bytes).
            stub = self.channel.unary_unary(cmd["method"])
            self.unary(stub, b"", cmd, start, timeout, compression)
        elif op == "watch":
            threading.Thread(target=self.run_watch, args=(cmd, start, timeout), daemon=True).start()
        else:
            emit({"id": cmd.get("id"), "fatal": "unknown op %s" % op})
            self.ended()

    def unary(self, stub, req, cmd, start, timeout, compression):
        fut = stub.future(req, timeout=timeout, compression=compression)

        def done(f):
            try:
                resp = f.result()
                self.result(cmd, start, f, response=resp)
            except grpc.RpcError as e:
                self.result(cmd, start, None, error=e)

        fut.add_done_callback(done)

    def run_watch(self, cmd, start, timeout):
        want = cmd.get("updates") or 0
        updates = []
        call = self.watch(self.types["HealthCheckRequest"](service=cmd.get("service", "")), timeout=timeout)
        try:
            for m in call:
                name = self.types["HealthCheckResponse"].DESCRIPTOR.fields_by_name["status"].enum_type.values_by_number[m.status].name
                updates.append(name)
                emit({"id": cmd.get("id"), "event": "update", "status": name})
                if want and len(updates) >= want:
                    break
            self.result(cmd, start, call, updates=updates)
        except grpc.RpcError as e:
            self.result(cmd, start, None, error=e, updates=updates)
        finally:
            call.cancel()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--address", required=True)
    p.add_argument("--descriptors", required=True, help="FileDescriptorSet with rls.proto and health.proto")
    p.add_argument("--ca", help="PEM CA to verify the server with (TLS); absent = plaintext")
    p.add_argument("--cert", help="PEM client certificate (mTLS)")
    p.add_argument("--key", help="PEM key of --cert")
    p.add_argument("--server-name", help="name to verify the server certificate for")
    args = p.parse_args()

    types = load_types(args.descriptors)
    if args.ca:
        read = lambda f: open(f, "rb").read() if f else None
        creds = grpc.ssl_channel_credentials(root_certificates=read(args.ca), private_key=read(args.key), certificate_chain=read(args.cert))
        options = [("grpc.ssl_target_name_override", args.server_name)] if args.server_name else []
        channel = grpc.secure_channel(args.address, creds, options=options)
    else:
        channel = grpc.insecure_channel(args.address)
    client = Client(channel, types)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
        except ValueError as e:
            emit({"fatal": "bad command: %s" % e})
            continue
        try:
            client.run(cmd)
        except Exception as e:  # a bad request (protojson) is reported, not fatal
            emit({"id": cmd.get("id"), "fatal": "%s: %s" % (type(e).__name__, e)})
            client.ended()
    client.wait_all()
    channel.close()


if __name__ == "__main__":
    main()
