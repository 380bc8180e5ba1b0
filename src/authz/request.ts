/**
 * The parts of Envoy's CheckRequest the authorizer reads, normalised once per check: header names
 * lower-cased (Envoy already sends them so; raw header_map entries are folded in too) and the query
 * string parsed lazily because only query token sources need it.
 */
export interface HttpView {
  headers: Record<string, string>;
  path: string;
  contextExtensions: Record<string, string>;
  query(name: string): string | undefined;
}

interface RawHeader {
  key?: string;
  value?: string;
  raw_value?: string;
}

export interface CheckRequestObject {
  attributes?: {
    context_extensions?: Record<string, string>;
    request?: {
      http?: {
        headers?: Record<string, string>;
        header_map?: { headers?: RawHeader[] };
        path?: string;
        query?: string;
      };
    };
  };
}

export function viewOf(req: CheckRequestObject): HttpView {
  const http = req.attributes?.request?.http ?? {};
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(http.headers ?? {})) headers[k.toLowerCase()] = v;
  for (const h of http.header_map?.headers ?? []) {
    if (!h.key) continue;
    // raw_value arrives base64-encoded (bytes as String); value is the legacy text form.
    const value = h.raw_value ? Buffer.from(h.raw_value, 'base64').toString('utf8') : (h.value ?? '');
    const key = h.key.toLowerCase();
    headers[key] = key in headers ? `${headers[key]}${key === 'cookie' ? '; ' : ','}${value}` : value;
  }
  const path = http.path ?? headers[':path'] ?? '';
  let params: URLSearchParams | undefined;
  return {
    headers,
    path,
    contextExtensions: req.attributes?.context_extensions ?? {},
    query(name) {
      if (!params) {
        // Envoy leaves `query` empty and keeps the query string in `path`; accept either.
        const q = http.query || (path.includes('?') ? path.slice(path.indexOf('?') + 1) : '');
        params = new URLSearchParams(q.split('#')[0]);
      }
      return params.get(name) ?? undefined;
    },
  };
}
