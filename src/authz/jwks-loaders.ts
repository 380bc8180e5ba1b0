import fs from 'node:fs/promises';
import type { JSONWebKeySet } from 'jose';

/** Key sets and discovery documents are small; anything bigger is refused rather than buffered. */
const MAX_DOCUMENT_BYTES = 1 << 20;
const FETCH_TIMEOUT_MS = 5000;

async function fetchJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'error', headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  const text = await res.text();
  if (text.length > MAX_DOCUMENT_BYTES) throw new Error(`GET ${url}: document larger than ${MAX_DOCUMENT_BYTES} bytes`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`GET ${url}: not JSON (${(err as Error).message})`);
  }
}

function asKeySet(doc: unknown, where: string): JSONWebKeySet {
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error(`${where}: not a JWK set (no "keys" array)`);
  return doc as JSONWebKeySet;
}

export function uriLoader(uri: string): () => Promise<JSONWebKeySet> {
  return async () => asKeySet(await fetchJson(uri), uri);
}

/**
 * OIDC discovery: issuer + /.well-known/openid-configuration → jwks_uri. The document's issuer must
 * equal the configured one (OpenID Connect Discovery §4.3), or a spoofed document could redirect key
 * lookups. The jwks_uri is remembered and rediscovered only after a failed key fetch.
 */
export function oidcLoader(issuer: string): () => Promise<JSONWebKeySet> {
  let jwksUri: string | undefined;
  return async () => {
    if (!jwksUri) {
      const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
      const doc = (await fetchJson(url)) as { issuer?: unknown; jwks_uri?: unknown } | null;
      if (doc?.issuer !== issuer) throw new Error(`${url}: issuer ${JSON.stringify(doc?.issuer)} does not match ${JSON.stringify(issuer)}`);
      if (typeof doc.jwks_uri !== 'string') throw new Error(`${url}: no jwks_uri`);
      jwksUri = doc.jwks_uri;
    }
    try {
      return asKeySet(await fetchJson(jwksUri), jwksUri);
    } catch (err) {
      jwksUri = undefined;
      throw err;
    }
  };
}

export function fileLoader(path: string): () => Promise<JSONWebKeySet> {
  return async () => {
    const text = await fs.readFile(path, 'utf8');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new Error(`${path}: not JSON (${(err as Error).message})`);
    }
    return asKeySet(doc, path);
  };
}
