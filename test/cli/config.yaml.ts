/** The routes YAML the CLI tests serve: `checkout` is split monolith/checkout-v2, `search` is all monolith. */
export function routesYaml(opts: { checkout?: [number, number]; searchV2?: boolean } = {}): string {
  const [monolith, v2] = opts.checkout ?? [90, 10];
  return `listeners:
  - name: edge
    port: 10000
    hosts:
      - domains: ["*"]
        routes:
          - name: checkout
            match: { prefix: /checkout }
            to:
              - { cluster: monolith, weight: ${monolith} }
              - { cluster: checkout-v2, weight: ${v2} }
          - name: search
            match: { prefix: /search }
            to:
              - { cluster: monolith, weight: 100 }
              - { cluster: search-v2, weight: 0 }
          - name: rest
            match: { prefix: / }
            to: monolith
clusters:
  - name: monolith
    endpoints: [10.0.0.1:8080]
  - name: checkout-v2
    endpoints: [10.0.0.2:8080]
  - name: search-v2
    endpoints: [10.0.0.3:8080]
${opts.searchV2 ? '  - name: search-v3\n    endpoints: [10.0.0.4:8080]\n' : ''}`;
}
