import { describe, expect, it } from 'vitest';
import { CliError, EXIT, serverUrl } from '../../src/cli/admin-client.js';
import { parseOutputFormat } from '../../src/cli/output.js';

describe('--server as operators write it', () => {
  it.each([
    ['127.0.0.1:18001', false, 'http://127.0.0.1:18001'],
    ['127.0.0.1:18001', true, 'https://127.0.0.1:18001'],
    ['cp.internal', false, 'http://cp.internal:18001'],
    ['cp.internal', true, 'https://cp.internal:18001'],
    ['[::1]:9000', false, 'http://[::1]:9000'],
    ['cp.internal:80', false, 'http://cp.internal'],
    // a URL is kept as given, path and all, whatever the TLS flags
    ['http://cp.internal:18001/base', true, 'http://cp.internal:18001/base'],
    ['https://cp.internal', false, 'https://cp.internal'],
  ])('%s (TLS flags: %s) → %s', (given, tls, url) => {
    expect(serverUrl(given, tls)).toBe(url);
  });

  it.each([['not a host'], ['cp.internal:18001/api'], ['ftp://cp.internal'], ['user@cp.internal:1']])('refuses %s as a usage error', (given) => {
    let err: unknown;
    try {
      serverUrl(given);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(EXIT.usage);
    expect((err as CliError).message).toMatch(/^--server: /);
  });
});

describe('-o', () => {
  it('takes json and yaml (any case), table/text for the output for people, nothing else', () => {
    expect(parseOutputFormat('json')).toBe('json');
    expect(parseOutputFormat('YAML')).toBe('yaml');
    expect(parseOutputFormat('table')).toBe('table');
    expect(parseOutputFormat('text')).toBe('table');
    expect(() => parseOutputFormat('wide')).toThrow('Allowed: json, yaml; leave -o out for the output for people.');
    // a command whose output is a document has no output for people
    expect(() => parseOutputFormat('table', 'json')).toThrow('Allowed: json, yaml (default json).');
  });
});
