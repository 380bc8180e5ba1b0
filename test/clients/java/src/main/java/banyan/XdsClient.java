package banyan;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * grpc-java as a proxyless xDS client for Banyan's tests: the same flags and stdin/stdout protocol as
 * test/go/xdsclient (one JSON command per line in, one JSON result per line out, exit on EOF).
 */
public final class XdsClient {
  private static final MethodDescriptor.Marshaller<byte[]> BYTES =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
          return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
          try {
            return stream.readAllBytes();
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      };

  private static final MethodDescriptor<byte[], byte[]> WHO =
      MethodDescriptor.<byte[], byte[]>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName("banyan.e2e.Echo/Who")
          .setRequestMarshaller(BYTES)
          .setResponseMarshaller(BYTES)
          .build();

  private static final Gson GSON = new Gson();

  /** A batch's command; absent fields take the flags' values. */
  static final class Command {
    int n;
    int concurrency = 20;
    int deadlineMs = 5000;
    Map<String, String> headers = Map.of();
  }

  static final class Result {
    final Map<String, Integer> counts = new TreeMap<>();
    final Map<String, Integer> errors = new TreeMap<>();
    final Map<String, String> messages = new TreeMap<>();
    long elapsedMs;
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> flags = new TreeMap<>(Map.of("node", "grpc-java-client", "cluster", "proxyless", "target", "xds:///orders"));
    Command defaults = new Command();
    Map<String, String> headers = new TreeMap<>();
    for (int i = 0; i + 1 < argv.length; i += 2) {
      String name = argv[i].replaceFirst("^--?", "");
      String value = argv[i + 1];
      switch (name) {
        case "n" -> defaults.n = Integer.parseInt(value);
        case "concurrency" -> defaults.concurrency = Integer.parseInt(value);
        case "deadline" -> defaults.deadlineMs = Integer.parseInt(value);
        case "header" -> headers.put(value.split("=", 2)[0].toLowerCase(), value.split("=", 2)[1]);
        default -> flags.put(name, value);
      }
    }
    defaults.headers = headers;
    if (!flags.containsKey("xds")) fail("--xds is required");

    Map<String, Object> bootstrap =
        Map.of(
            "xds_servers",
            List.of(Map.of("server_uri", flags.get("xds"), "channel_creds", List.of(Map.of("type", "insecure")), "server_features", List.of("xds_v3"))),
            "node",
            Map.of("id", flags.get("node"), "cluster", flags.get("cluster"), "locality", Map.of()));
    // Read when the first xds: channel is built; the test's environment carries no GRPC_XDS_BOOTSTRAP.
    System.setProperty("io.grpc.xds.bootstrapConfig", GSON.toJson(bootstrap));

    ManagedChannel channel = Grpc.newChannelBuilder(flags.get("target"), InsecureChannelCredentials.create()).build();
    try {
      if (defaults.n > 0) {
        System.out.println(GSON.toJson(batch(channel, defaults)));
        return;
      }
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      for (String line; (line = in.readLine()) != null; ) {
        if (line.isBlank()) continue;
        JsonObject o = JsonParser.parseString(line).getAsJsonObject();
        Command cmd = new Command();
        cmd.n = o.has("n") ? o.get("n").getAsInt() : defaults.n;
        cmd.concurrency = o.has("concurrency") ? o.get("concurrency").getAsInt() : defaults.concurrency;
        cmd.deadlineMs = o.has("deadlineMs") ? o.get("deadlineMs").getAsInt() : defaults.deadlineMs;
        cmd.headers = o.has("headers") ? GSON.fromJson(o.get("headers"), Map.class) : defaults.headers;
        System.out.println(GSON.toJson(batch(channel, cmd)));
        System.out.flush();
      }
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  static Result batch(Channel channel, Command cmd) throws InterruptedException {
    Metadata md = new Metadata();
    cmd.headers.forEach((k, v) -> md.put(Metadata.Key.of(k, Metadata.ASCII_STRING_MARSHALLER), v));
    Channel ch = ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(md));
    Result res = new Result();
    Semaphore inFlight = new Semaphore(Math.max(1, cmd.concurrency));
    CompletableFuture<?>[] all = new CompletableFuture<?>[cmd.n];
    long start = System.nanoTime();
    for (int i = 0; i < cmd.n; i++) {
      inFlight.acquire();
      CompletableFuture<Void> done = new CompletableFuture<>();
      all[i] = done;
      var call = ch.newCall(WHO, CallOptions.DEFAULT.withDeadlineAfter(cmd.deadlineMs, TimeUnit.MILLISECONDS));
      ClientCalls.asyncUnaryCall(
          call,
          "{}".getBytes(StandardCharsets.UTF_8),
          new io.grpc.stub.StreamObserver<byte[]>() {
            @Override
            public void onNext(byte[] reply) {
              String backend = JsonParser.parseString(new String(reply, StandardCharsets.UTF_8)).getAsJsonObject().get("backend").getAsString();
              synchronized (res) {
                res.counts.merge(backend, 1, Integer::sum);
              }
            }

            @Override
            public void onError(Throwable t) {
              Status st = Status.fromThrowable(t);
              synchronized (res) {
                res.errors.merge(st.getCode().name(), 1, Integer::sum);
                res.messages.put(st.getCode().name(), st.getDescription() == null ? "" : st.getDescription());
              }
              inFlight.release();
              done.complete(null);
            }

            @Override
            public void onCompleted() {
              inFlight.release();
              done.complete(null);
            }
          });
    }
    CompletableFuture.allOf(all).join();
    res.elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    return res;
  }

  private static void fail(String msg) {
    System.err.println("xdsclient: " + msg);
    System.exit(2);
  }
}
