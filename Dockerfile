# syntax=docker/dockerfile:1
# Banyan's container image: `docker build -t banyan:0.1.0 .`
#
# Three stages on one pinned Node.js LTS base: `build` compiles TypeScript (dev dependencies),
# `deps` installs production dependencies only, and the final stage holds just those dependencies,
# the compiled dist/src/, the bin, Banyan's runtime protos and the examples — the same layout the npm
# package ships. It runs as the base image's unprivileged `node` user (uid 1000).
# The suite checks this file's structure (test/packaging/dockerfile.test.ts); it does not build the
# image, as CI has no Docker daemon.
ARG NODE_IMAGE=node:24.22.1-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/ scripts/
COPY protos/ protos/
COPY src/ src/
# Only src/ is in this context (tests and benchmarks are not), so tsc compiles src/ alone into dist/src/.
RUN npm run gen:types && npx tsc -p tsconfig.json --sourceMap false

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules/ node_modules/
COPY --from=build /src/dist/src/ dist/src/
COPY package.json ./
COPY bin/ bin/
COPY protos/ protos/
COPY examples/ examples/
# The embedded store (--data-dir) needs a writable directory; in Kubernetes mount an emptyDir or a
# volume there (the Helm chart does), or use --postgres.
RUN mkdir -p /var/lib/banyan && chown 1000:1000 /var/lib/banyan
USER 1000:1000
VOLUME ["/var/lib/banyan"]
# xDS, admin API, rate limit, authz.
EXPOSE 18000 18001 8081 9191
# /readyz on the admin port from inside the container (the admin API binds loopback by default). With
# --tls-cert it is HTTPS: set BANYAN_HEALTHCHECK_URL=https://127.0.0.1:18001/readyz (the certificate is
# not verified for this loopback check). Under mTLS (--tls-client-ca) the check needs a client
# certificate: turn it off (`--no-healthcheck`) and probe from the orchestrator instead.
ENV BANYAN_HEALTHCHECK_URL=http://127.0.0.1:18001/readyz
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const u=new URL(process.env.BANYAN_HEALTHCHECK_URL);require(u.protocol==='https:'?'node:https':'node:http').get(u,{rejectUnauthorized:false,timeout:2500},(r)=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/banyan.js"]
# The quick start: the shipped example on the embedded store, every server on loopback inside the
# container. Give your own arguments to serve your config, e.g.
#   docker run -v $PWD/routes:/etc/banyan/routes banyan:0.1.0 serve /etc/banyan/routes --host 0.0.0.0 \
#     --admin-host 0.0.0.0 --tls-cert ... --tls-key ... --data-dir /var/lib/banyan
CMD ["serve", "examples/banyan.yaml", "--data-dir", "/var/lib/banyan"]
