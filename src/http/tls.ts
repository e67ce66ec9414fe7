import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TLSSocket, createSecureContext } from 'node:tls';
import type { Request } from 'express';
import type { Config } from '../config.ts';
import { ConfigError } from '../errors.ts';

/** The HTTPS listener's own certificate chain and key (MAILCA_TLS_CERT, MAILCA_TLS_KEY), PEM. */
export interface TlsIdentity {
  cert: string;
  key: string;
  /** The server certificate's notAfter, for a start-up warning. */
  notAfter: Date;
}

function readPem(variable: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError('config_invalid', `${variable} (${file}): cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * Reads and checks the listener's certificate and key once, at start: each problem is one line
 * naming its variable. Undefined when mailca serves plain HTTP (behind a proxy).
 */
export function loadTlsIdentity(config: Pick<Config, 'tlsCert' | 'tlsKey'>): TlsIdentity | undefined {
  if (!config.tlsCert || !config.tlsKey) return undefined;
  const cert = readPem('MAILCA_TLS_CERT', config.tlsCert);
  const key = readPem('MAILCA_TLS_KEY', config.tlsKey);
  let leaf: X509Certificate;
  try {
    if (!cert.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no "-----BEGIN CERTIFICATE-----" block');
    leaf = new X509Certificate(cert);
  } catch (e) {
    throw new ConfigError('config_invalid', `MAILCA_TLS_CERT (${config.tlsCert}): not a PEM certificate (${(e as Error).message})`);
  }
  try {
    createPrivateKey(key);
  } catch (e) {
    throw new ConfigError('config_invalid', `MAILCA_TLS_KEY (${config.tlsKey}): not an unencrypted PEM private key (${(e as Error).message})`);
  }
  if (!leaf.checkPrivateKey(createPrivateKey(key))) {
    throw new ConfigError('config_invalid', `MAILCA_TLS_KEY (${config.tlsKey}): the key does not belong to the certificate in MAILCA_TLS_CERT (${config.tlsCert})`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (e) {
    throw new ConfigError('config_invalid', `MAILCA_TLS_CERT (${config.tlsCert}): OpenSSL refuses the certificate and key: ${(e as Error).message}`);
  }
  return { cert, key, notAfter: new Date(leaf.validTo) };
}

/**
 * The client certificate (DER) of the TLS connection this request came on, when mailca's own
 * HTTPS listener terminated it; undefined on plain HTTP or when none was presented. A header set
 * by a proxy is never taken for it.
 */
export function peerCertificateDer(req: Request): { tls: false } | { tls: true; der: Uint8Array | undefined } {
  const socket = req.socket;
  if (!(socket instanceof TLSSocket)) return { tls: false };
  const peer = socket.getPeerCertificate();
  const raw = (peer as { raw?: Buffer }).raw;
  return { tls: true, der: raw && raw.byteLength > 0 ? new Uint8Array(raw) : undefined };
}
