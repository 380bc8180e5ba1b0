import { describe, expect, it } from 'vitest';
import { parseHostPort } from '../../src/config/address.js';
import { parseDuration } from '../../src/config/duration.js';
import { regexProblem } from '../../src/config/regex.js';
import { closest, editDistance } from '../../src/config/suggest.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['2s', 2000],
    ['1.5s', 1500],
    ['1.1s', 1100],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['0s', 0],
    ['0.5ms', 0.5],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '2', 's', '2x', '2 s', '-1s', '1d', '2s ', 'ms5', '1.s'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('suggestions', () => {
  it('counts a transposition as one edit', () => {
    expect(editDistance('rotues', 'routes')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('suggests close keys, ignoring case and separators, and nothing for strangers', () => {
    expect(closest('rotues', ['routes', 'domains', 'name'])).toBe('routes');
    expect(closest('connect_timeout', ['connectTimeout', 'lb'])).toBe('connectTimeout');
    expect(closest('Listeners', ['listeners', 'clusters'])).toBe('listeners');
    expect(closest('flavour', ['name', 'endpoints', 'lb'])).toBeUndefined();
  });
});

describe('parseHostPort', () => {
  it('accepts IPv4, IPv6 in brackets and DNS names', () => {
    expect(parseHostPort('10.0.0.1:80')).toEqual({ host: '10.0.0.1', port: 80 });
    expect(parseHostPort('[2001:db8::1]:8080')).toEqual({ host: '2001:db8::1', port: 8080 });
    expect(parseHostPort('svc.ns.svc.cluster.local:9000')).toEqual({ host: 'svc.ns.svc.cluster.local', port: 9000 });
  });

  it.each([
    ['10.0.0.1', 'is not host:port'],
    ['10.0.0.1:0', 'out of range'],
    ['10.0.0.1:65536', 'out of range'],
    ['bad_host:80', 'neither an IP address nor a valid DNS name'],
    ['[example.com]:80', 'not an IPv6 address'],
    ['2001:db8::1:80', 'is not host:port'],
  ])('rejects %s', (text, message) => {
    const r = parseHostPort(text);
    expect('error' in r && r.error).toContain(message);
  });
});

describe('regexProblem', () => {
  it.each(['^/v[0-9]+/(orders|users)/.*$', '(?i)/case', '(?s)a.b', '(?P<v>[0-9]+)', 'a{1000}'])('accepts RE2 pattern %s (some of which JavaScript refuses)', (source) => {
    expect(regexProblem(source)).toBeUndefined();
  });

  it.each([
    ['/a(b', 'missing closing )'],
    ['/(?=x)', 'invalid or unsupported Perl syntax'],
    ['/(?<!x)y', 'invalid named capture'],
    ['(a)\\1', 'invalid escape sequence'],
    ['a{1001}', 'invalid repeat count'],
    ['\\Z', 'invalid escape sequence'],
  ])('rejects %s as RE2 does (JavaScript accepts some of them)', (source, message) => {
    expect(regexProblem(source)).toContain(message);
  });
});
