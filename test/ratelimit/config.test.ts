import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/diagnostics.js';
import { loadRateLimitDirectory } from '../../src/config/ratelimit/directory.js';
import { parseRateLimitFiles, parseRateLimitYaml } from '../../src/config/ratelimit/parse.js';

// Each error case mirrors a file in envoyproxy/ratelimit's test/config and its expected message.
function errorsOf(yaml: string): string[] {
  return parseRateLimitYaml(yaml, 'f.yaml').diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`);
}

describe('rate limit config (envoyproxy/ratelimit format)', () => {
  it('reads the reference basic config unchanged', () => {
    const { domains, diagnostics } = parseRateLimitYaml(
      `domain: test-domain
descriptors:
  - key: key1
    value: value1
    descriptors:
      - key: subkey1
        rate_limit: { unit: second, requests_per_unit: 5 }
  - key: key2
    rate_limit:
      unit: minute
      requests_per_unit: 20
      name: k2
      replaces: [{ name: other }]
    shadow_mode: true
    detailed_metric: true
  - key: key3
    rate_limit: { unlimited: true }
  - key: key4
    rate_limit: { unit: DAY, requests_per_unit: 1 }
`,
      'basic.yaml',
    );
    expect(diagnostics).toEqual([]);
    const [d] = domains;
    expect(d.domain).toBe('test-domain');
    expect(d.descriptors[0].descriptors[0].rateLimit).toMatchObject({ unit: 'second', requestsPerUnit: 5, algorithm: 'fixed' });
    expect(d.descriptors[1]).toMatchObject({ key: 'key2', shadowMode: true, detailedMetric: true, rateLimit: { name: 'k2', replaces: ['other'] } });
    expect(d.descriptors[2].rateLimit).toMatchObject({ unlimited: true });
    expect(d.descriptors[3].rateLimit?.unit).toBe('day');
    expect(d.descriptors[1].pos).toEqual({ file: 'basic.yaml', line: 8, col: 5 });
  });

  it('empty domain', () => {
    expect(errorsOf('domain: ""\ndescriptors: []\n')).toEqual(['1:9 config file cannot have empty domain']);
  });

  it('duplicate domain across files', () => {
    const { diagnostics } = parseRateLimitFiles([
      { file: 'a.yaml', text: 'domain: test-domain\n' },
      { file: 'b.yaml', text: 'domain: test-domain\n' },
    ]);
    expect(diagnostics.map((d) => `${d.file}:${d.line}:${d.col} ${d.message}`)).toEqual(["b.yaml:1:9 duplicate domain 'test-domain' in config file"]);
  });

  it('empty key', () => {
    expect(errorsOf('domain: d\ndescriptors:\n  - value: v\n')).toEqual(['3:5 descriptor has empty key']);
  });

  it('duplicate composite key', () => {
    expect(errorsOf('domain: test-domain\ndescriptors:\n  - key: key1\n    value: value1\n  - key: key1\n    value: value1\n')).toEqual([
      "5:5 duplicate descriptor composite key 'test-domain.key1_value1'",
    ]);
  });

  it('invalid unit', () => {
    expect(errorsOf('domain: d\ndescriptors:\n  - key: k\n    rate_limit: { unit: foo, requests_per_unit: 1 }\n')).toEqual(["4:25 invalid rate limit unit 'foo'"]);
  });

  it('unit given with unlimited', () => {
    expect(errorsOf('domain: d\ndescriptors:\n  - key: k\n    rate_limit: { unlimited: true, unit: second }\n')).toEqual([
      '4:42 should not specify rate limit unit when unlimited',
    ]);
  });

  it('replaces self and empty replaces', () => {
    const self = 'domain: d\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 1, name: a, replaces: [{ name: a }] }\n';
    expect(errorsOf(self)).toEqual(['4:75 replaces should not contain name of same descriptor']);
    const empty = 'domain: d\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 1, name: a, replaces: [{ name: "" }] }\n';
    expect(errorsOf(empty)).toEqual(['4:75 should not have an empty replaces entry']);
  });

  it('misspelled keys with a hint', () => {
    expect(errorsOf('domain: d\ndescriptors:\n  - key: k\n    ratelimit: { unit: second, requests_per_unit: 1 }\n')).toEqual([
      `4:5 config error, unknown key 'ratelimit'; did you mean "rate_limit"?`,
    ]);
    expect(errorsOf('domain: d\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requestsperunit: 1 }\n')).toEqual([
      `4:33 config error, unknown key 'requestsperunit'; did you mean "requests_per_unit"?`,
    ]);
  });

  it('non-string keys and lists of non-maps', () => {
    expect(errorsOf('domain: d\ndescriptors:\n  - key: k\n    0.25: x\n')).toEqual(['4:5 config error, key is not of type string: 0.25']);
    expect(errorsOf('domain: d\ndescriptors:\n  - a\n')).toEqual(['3:5 config error, yaml file contains list of type other than map: a']);
  });

  it('bad YAML reports the parser error with its position', () => {
    const [e] = errorsOf('domain: d\ndescriptors:\n  - key: [unclosed\n');
    expect(e).toMatch(/^\d+:\d+ error loading config file: /);
  });

  it('Banyan extensions: algorithm, several limits, custom window, fail_open', () => {
    const { domains, diagnostics } = parseRateLimitYaml(
      `domain: d
descriptors:
  - key: k
    fail_open: true
    rate_limit: { unit: second, requests_per_unit: 10, algorithm: gcra }
    limits:
      - { unit: day, requests_per_unit: 1000 }
      - { window: 5m, requests_per_unit: 100, algorithm: sliding }
`,
      'x.yaml',
    );
    expect(diagnostics).toEqual([]);
    const k = domains[0].descriptors[0];
    expect(k.failOpen).toBe(true);
    expect(k.rateLimit).toMatchObject({ algorithm: 'gcra', requestsPerUnit: 10 });
    expect(k.extraLimits).toMatchObject([{ unit: 'day' }, { unit: 'minute', windowSeconds: 300, algorithm: 'sliding' }]);
    expect(errorsOf('domain: d\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 1, algorithm: slidng }\n')[0]).toContain(
      `unknown algorithm 'slidng'; did you mean "sliding"?`,
    );
  });

  it('loads a directory of domain files and rejects the whole set on one bad file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-'));
    try {
      fs.writeFileSync(path.join(dir, 'a.yaml'), 'domain: a\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 1 }\n');
      fs.writeFileSync(path.join(dir, 'b.yml'), 'domain: b\n');
      fs.writeFileSync(path.join(dir, 'README.md'), 'not config');
      expect(loadRateLimitDirectory(dir).map((d) => d.domain)).toEqual(['a', 'b']);
      fs.writeFileSync(path.join(dir, 'c.yaml'), 'domain: c\ndescriptors:\n  - key: k\n    rate_limit: { unit: fortnight }\n');
      expect(() => loadRateLimitDirectory(dir)).toThrow(ConfigError);
      expect(() => loadRateLimitDirectory(dir)).toThrow(/c\.yaml:4:\d+: error: invalid rate limit unit 'fortnight'/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
