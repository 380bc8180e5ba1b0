import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import {
  DEFAULT_CA_DAYS,
  DEFAULT_LEAF_HOURS,
  certFromPem,
  certToPem,
  createCa,
  describeCert,
  issueCert,
  keyToPem,
  loadCa,
  passphraseFromEnv,
} from '../../ca/index.js';
import { BanyanError } from '../../errors.js';
import { outputOption, printStructured, type OutputFormat } from '../output.js';

const list = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

const number = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive number.`);
  return n;
};

function writeKey(file: string, pem: string): void {
  writeFileSync(file, pem, { mode: 0o600 });
  chmodSync(file, 0o600); // an existing file keeps its mode on write
}

const PASSPHRASE_HELP =
  '\nThe private key is stored encrypted (PKCS#8, AES-256-CBC) when BANYAN_CA_KEY_PASSPHRASE or\n' +
  'BANYAN_CA_KEY_PASSPHRASE_FILE (its first line) is set; the same variable then unlocks ca.key.';

export function register(program: Command): void {
  const certs = program
    .command('certs')
    .description('Create a CA and certificates for local setups (ECDSA P-256)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ banyan certs ca --out pki/ca --name "Local CA"\n' +
        '  $ banyan certs issue --ca pki/ca --out pki/banyan --dns banyan,localhost --ip 127.0.0.1 --server\n' +
        '  $ banyan certs issue --ca pki/ca --out pki/edge --uri spiffe://local/ns/default/sa/edge --client --hours 24\n' +
        '  $ banyan serve routes.yaml --tls-cert pki/banyan/tls.crt --tls-key pki/banyan/tls.key --tls-client-ca pki/ca/ca.crt\n' +
        '  $ banyan certs inspect pki/edge/tls.crt',
    );

  certs
    .command('ca')
    .description('Create a self-signed CA: DIR/ca.crt and DIR/ca.key (mode 0600)')
    .requiredOption('--out <dir>', 'directory to write ca.crt and ca.key into')
    .option('--name <cn>', 'common name of the CA', 'Banyan CA')
    .option('--days <n>', 'validity in days', number('--days'), DEFAULT_CA_DAYS)
    .addHelpText('after', `\nExamples:\n  $ banyan certs ca --out pki/ca --name "Local CA" --days 365\n${PASSPHRASE_HELP}`)
    .action(async (o: { out: string; name: string; days: number }) => {
      const ca = await createCa({ name: o.name, days: o.days });
      mkdirSync(o.out, { recursive: true });
      writeFileSync(path.join(o.out, 'ca.crt'), certToPem(ca.cert));
      writeKey(path.join(o.out, 'ca.key'), await keyToPem(ca.privateKey, passphraseFromEnv()));
      process.stdout.write(`${path.join(o.out, 'ca.crt')}: ${ca.cert.subject}, valid until ${ca.cert.notAfter.toISOString()}\n`);
    });

  certs
    .command('issue')
    .description('Issue a certificate signed by the CA in --ca: DIR/tls.crt and DIR/tls.key (mode 0600)')
    .requiredOption('--ca <dir>', 'directory holding ca.crt and ca.key')
    .requiredOption('--out <dir>', 'directory to write tls.crt and tls.key into')
    .option('--dns <names>', 'DNS names, comma-separated (repeatable)', list)
    .option('--ip <addresses>', 'IP addresses, comma-separated (repeatable)', list)
    .option('--uri <uris>', 'URIs such as spiffe://trust-domain/ns/x/sa/y, comma-separated (repeatable)', list)
    .option('--cn <name>', 'subject common name (default: the first SAN)')
    .option('--server', 'server certificate (extendedKeyUsage serverAuth; the default)')
    .option('--client', 'client certificate (extendedKeyUsage clientAuth)')
    .option('--hours <n>', 'validity in hours', number('--hours'), DEFAULT_LEAF_HOURS)
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ banyan certs issue --ca pki/ca --out pki/banyan --dns banyan,localhost --ip 127.0.0.1 --server\n' +
        `  $ banyan certs issue --ca pki/ca --out pki/edge --uri spiffe://local/ns/default/sa/edge --client --hours 12\n${PASSPHRASE_HELP}`,
    )
    .action(async (o: { ca: string; out: string; dns?: string[]; ip?: string[]; uri?: string[]; cn?: string; server?: boolean; client?: boolean; hours: number }) => {
      if (o.server && o.client) throw new BanyanError('bad-input', '--server and --client exclude each other');
      const passphrase = passphraseFromEnv();
      const ca = await loadCa(readFileSync(path.join(o.ca, 'ca.crt'), 'utf8'), readFileSync(path.join(o.ca, 'ca.key'), 'utf8'), passphrase);
      const leaf = await issueCert(ca, { dns: o.dns, ip: o.ip, uri: o.uri, commonName: o.cn, usage: o.client ? 'client' : 'server', hours: o.hours });
      mkdirSync(o.out, { recursive: true });
      writeFileSync(path.join(o.out, 'tls.crt'), certToPem(leaf.cert));
      // A workload key is read by a proxy or a server without a prompt: it is stored plain, 0600.
      writeKey(path.join(o.out, 'tls.key'), await keyToPem(leaf.privateKey));
      process.stdout.write(`${path.join(o.out, 'tls.crt')}: ${leaf.cert.subject}, valid until ${leaf.cert.notAfter.toISOString()}\n`);
    });

  const inspect = certs
    .command('inspect')
    .description('Print subject, SANs, validity, serial and issuer of a PEM certificate')
    .argument('<file>', 'PEM certificate');
  outputOption(inspect)
    .addHelpText('after', '\nExamples:\n  $ banyan certs inspect pki/edge/tls.crt\n  $ banyan certs inspect pki/ca/ca.crt -o json')
    .action((file: string, o: { output?: OutputFormat }) => {
      const s = describeCert(certFromPem(readFileSync(file, 'utf8')));
      if (printStructured(s, o.output)) return;
      const rows: [string, string][] = [
        ['subject', s.subject],
        ['issuer', s.issuer],
        ['serial', s.serial],
        ['not before', s.notBefore],
        ['not after', s.notAfter],
        ['CA', s.ca ? 'yes' : 'no'],
        ['SANs', s.sans.join(', ') || '-'],
        ['usage', s.usage.join(', ') || '-'],
      ];
      for (const [k, v] of rows) process.stdout.write(`${`${k}:`.padEnd(12)}${v}\n`);
    });
}
