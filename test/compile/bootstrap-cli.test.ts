import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { register } from '../../src/cli/commands/bootstrap.js';

async function run(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  register(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(['node', 'banyan', 'bootstrap', ...args]);
  } finally {
    spy.mockRestore();
  }
  return out;
}

describe('banyan bootstrap', () => {
  afterEach(() => vi.restoreAllMocks());

  it('prints a JSON bootstrap for the given node, group, kind and xDS address', async () => {
    const doc = JSON.parse(await run(['--node', 'edge-7', '--group', 'edges', '--kind', 'edge', '--xds', 'banyan:18000', '--output', 'json']));
    expect(doc.node).toEqual({ id: 'edge-7', cluster: 'edges', metadata: { kind: 'edge' } });
    expect(doc.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: 'banyan', port_value: 18000 });
  });

  it('defaults to YAML, a sidecar, and 127.0.0.1:18000', async () => {
    const text = await run(['--node', 'n', '--group', 'g']);
    expect(text).toMatch(/^node:\n {2}id: n\n {2}cluster: g\n/);
    expect(text).toContain('kind: sidecar');
    expect(text).toContain('port_value: 18000');
  });

  it('sets stats_flush_interval from --stats-flush-interval (default 10s)', async () => {
    expect(JSON.parse(await run(['--node', 'n', '--group', 'g', '--output', 'json'])).stats_flush_interval).toBe('10s');
    expect(JSON.parse(await run(['--node', 'n', '--group', 'g', '--stats-flush-interval', '2.5s', '--output', 'json'])).stats_flush_interval).toBe('2.500s');
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await expect(run(['--node', 'n', '--group', 'g', '--stats-flush-interval', '10m'])).rejects.toThrow(/expected a duration/);
    err.mockRestore();
  });

  it('rejects a malformed --xds with the expected form', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await expect(run(['--node', 'n', '--group', 'g', '--xds', 'nope'])).rejects.toThrow(/expected host:port/);
    err.mockRestore();
  });
});
