/**
 * Where Banyan's Redis is, as flags and URLs say it; no Redis client is loaded for it, so that the
 * CLI can check its flags without one.
 */

export interface RedisConnectOptions {
  /**
   * One of:
   * - `redis://[user:pass@]host:port[/db]` (`rediss://` for TLS): one Redis;
   * - `redis+cluster://[user:pass@]host:port,host:port,...`: Redis Cluster, from these seed nodes;
   * - `redis+sentinel://[user:pass@]host:port,host:port,.../mastername[/db]`: the master that these
   *   Sentinels name (credentials are the data nodes'; the Sentinels themselves are asked unauthenticated).
   */
  url?: string;
  /** Sentinel endpoints plus the monitored master's name. */
  sentinels?: { host: string; port: number }[];
  sentinelName?: string;
  /** Seed nodes of a Redis Cluster. */
  cluster?: { host: string; port: number }[];
  username?: string;
  password?: string;
  db?: number;
}

export const REDIS_URL_HINT = 'redis://host:port[/db], rediss://..., redis+cluster://host:port,host:port or redis+sentinel://host:port,host:port/mastername';

/**
 * Reads the three URL shapes of RedisConnectOptions.url into connect options (a plain redis:// URL is
 * kept as it is, for @redis/client to read). Throws on a malformed cluster or sentinel URL.
 */
/** `host:port,host:port,...` (IPv6 hosts in brackets); `where` completes the error message. */
export function parseHostPorts(list: string, where = ''): { host: string; port: number }[] {
  return list.split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    const port = Number(hp.slice(i + 1));
    if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`"${hp}"${where} is not host:port`);
    return { host: hp.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port };
  });
}

export function parseRedisUrl(url: string): RedisConnectOptions {
  const m = /^redis\+(cluster|sentinel):\/\/(?:([^@/]*)@)?([^/]+)(?:\/(.*))?$/.exec(url);
  if (!m) {
    if (/^rediss?:\/\//.test(url)) return { url };
    throw new Error(`"${url}" is not a Redis URL (${REDIS_URL_HINT})`);
  }
  const [, kind, auth, hosts, path = ''] = m;
  const nodes = parseHostPorts(hosts, ` in "${url}"`);
  const creds: Pick<RedisConnectOptions, 'username' | 'password'> = {};
  if (auth) {
    const c = auth.indexOf(':');
    const user = decodeURIComponent(c < 0 ? '' : auth.slice(0, c));
    const pass = decodeURIComponent(c < 0 ? auth : auth.slice(c + 1));
    if (user) creds.username = user;
    if (pass) creds.password = pass;
  }
  if (kind === 'cluster') {
    if (path !== '') throw new Error(`"${url}": a Redis Cluster URL takes no path (Cluster has only db 0)`);
    return { cluster: nodes, ...creds };
  }
  const [name, db, ...rest] = path.split('/');
  if (!name || rest.length > 0 || (db !== undefined && !/^\d+$/.test(db))) throw new Error(`"${url}": a Sentinel URL ends with /mastername[/db]`);
  return { sentinels: nodes, sentinelName: decodeURIComponent(name), ...creds, ...(db !== undefined ? { db: Number(db) } : {}) };
}
