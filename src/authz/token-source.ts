import type { TokenSource } from '../config/model.js';
import type { HttpView } from './request.js';

/**
 * The first token found in `sources`, in order. A header whose value lacks the prefix is not a
 * token for this source (e.g. `Authorization: Basic …`), so the request counts as carrying none.
 * The scheme prefix compares case-insensitively: RFC 7235 auth schemes are case-insensitive.
 */
export function extractToken(sources: readonly TokenSource[], view: HttpView): string | undefined {
  for (const source of sources) {
    const token = fromSource(source, view);
    if (token) return token;
  }
  return undefined;
}

function fromSource(source: TokenSource, view: HttpView): string | undefined {
  switch (source.kind) {
    case 'header': {
      const value = view.headers[source.name.toLowerCase()];
      if (value === undefined) return undefined;
      if (!source.prefix) return value.trim() || undefined;
      if (value.length <= source.prefix.length) return undefined;
      if (value.slice(0, source.prefix.length).toLowerCase() !== source.prefix.toLowerCase()) return undefined;
      return value.slice(source.prefix.length).trim() || undefined;
    }
    case 'cookie':
      return cookie(view.headers.cookie, source.name);
    case 'query':
      return view.query(source.name) || undefined;
  }
}

function cookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/;\s*/)) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1') || undefined;
  }
  return undefined;
}
