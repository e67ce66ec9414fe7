import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOk } from './run.ts';

export interface ClientCertificate {
  email: string;
  certFile: string;
  keyFile: string;
  /** `AB:CD:…` upper-case, as Postfix wants it. */
  fingerprintWithColons: string;
  /** Upper-case hex without colons, as Exim's ${sha256:$tls_in_peercert} gives it. */
  fingerprintHex: string;
}

export interface TestPki {
  dir: string;
  caFile: string;
  crlFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  listed: ClientCertificate;
  unlisted: ClientCertificate;
  /** Revokes a certificate in the test CA's database and rewrites crlFile. */
  revoke(certFile: string): void;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function caConfig(dir: string): string {
  return [
    '[ ca ]',
    'default_ca = test_ca',
    '[ test_ca ]',
    `dir = ${dir}`,
    'database = $dir/index.txt',
    'crlnumber = $dir/crlnumber',
    'certificate = $dir/ca.pem',
    'private_key = $dir/ca.key',
    'default_md = sha256',
    'default_crl_days = 30',
    '',
  ].join('\n');
}

function issue(dir: string, name: string, subject: string, extensions: string, serial: string): { certFile: string; keyFile: string } {
  const keyFile = join(dir, `${name}.key`);
  const csrFile = join(dir, `${name}.csr`);
  const certFile = join(dir, `${name}.pem`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, `[ leaf ]\n${extensions}\n`);
  runOk('openssl', ['req', '-new', ...EC_KEY, '-keyout', keyFile, '-out', csrFile, '-subj', subject]);
  runOk('openssl', [
    'x509', '-req', '-in', csrFile, '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'),
    '-set_serial', serial, '-days', '30', '-sha256', '-extfile', extFile, '-extensions', 'leaf', '-out', certFile,
  ]);
  // The MTAs read keys after dropping privileges in some code paths; these are throwaway test keys.
  chmodSync(keyFile, 0o644);
  return { certFile, keyFile };
}

function clientCertificate(dir: string, name: string, email: string, serial: string): ClientCertificate {
  const files = issue(
    dir, name, `/CN=${email}`,
    ['basicConstraints = CA:FALSE', 'keyUsage = critical, digitalSignature', 'extendedKeyUsage = clientAuth', `subjectAltName = email:${email}`].join('\n'),
    serial,
  );
  const fingerprintWithColons = new X509Certificate(readFileSync(files.certFile)).fingerprint256.toUpperCase();
  return { email, ...files, fingerprintWithColons, fingerprintHex: fingerprintWithColons.replaceAll(':', '') };
}

/** A test CA with a server certificate for 127.0.0.1 and two client certificates, made with the openssl CLI. */
export function createTestPki(dir: string): TestPki {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const caFile = join(dir, 'ca.pem');
  const crlFile = join(dir, 'crl.pem');
  const configFile = join(dir, 'ca.cnf');
  writeFileSync(configFile, caConfig(dir));
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'crlnumber'), '01\n');
  runOk('openssl', [
    'req', '-x509', ...EC_KEY, '-keyout', join(dir, 'ca.key'), '-out', caFile, '-days', '365', '-sha256',
    '-subj', '/CN=mailca test CA', '-addext', 'basicConstraints = critical, CA:TRUE', '-addext', 'keyUsage = critical, keyCertSign, cRLSign',
  ]);
  const server = issue(
    dir, 'server', '/CN=127.0.0.1',
    ['basicConstraints = CA:FALSE', 'keyUsage = critical, digitalSignature', 'extendedKeyUsage = serverAuth', 'subjectAltName = IP:127.0.0.1, DNS:localhost'].join('\n'),
    '0x1001',
  );
  const generateCrl = (): void => {
    runOk('openssl', ['ca', '-config', configFile, '-gencrl', '-out', crlFile]);
    chmodSync(crlFile, 0o644);
  };
  generateCrl();
  return {
    dir,
    caFile,
    crlFile,
    serverCertFile: server.certFile,
    serverKeyFile: server.keyFile,
    listed: clientCertificate(dir, 'listed', 'alice@example.test', '0x2001'),
    unlisted: clientCertificate(dir, 'unlisted', 'bob@example.test', '0x2002'),
    revoke(certFile: string): void {
      runOk('openssl', ['ca', '-config', configFile, '-revoke', certFile]);
      generateCrl();
    },
  };
}
