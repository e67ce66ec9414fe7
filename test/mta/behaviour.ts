import { describe, expect, it } from 'vitest';
import { POLICIES, POLICY_NUMBERS, type MtaKind, type PolicyNumber } from '../../src/publishers/mta-config/index.ts';
import type { TestPki } from './certs.ts';
import { PORTAL_URL } from './published.ts';
import { authOffered, swaks, type ClientTls, type SwaksResult } from './swaks.ts';
import { ALICE, BOB } from './users.ts';

export interface RunningServer {
  pki: TestPki;
  port(policy: PolicyNumber): number;
  log(): string;
}

const ENROL_MESSAGE = `client certificate required - enrol at ${PORTAL_URL}`;

function explain(result: SwaksResult, server: RunningServer): string {
  return `${result.transcript}\n--- server log (tail) ---\n${server.log().split('\n').slice(-15).join('\n')}`;
}

/** The behaviour every policy promises, checked with swaks against a running server (one port per policy). */
export function describePolicyBehaviour(mta: MtaKind, getServer: () => RunningServer): void {
  for (const policy of POLICY_NUMBERS) {
    const { title, tls, clientCertificates } = POLICIES[policy];
    const clientTls: ClientTls = tls === 'tls-on-connect' ? 'tls-on-connect' : 'starttls';

    describe(`${mta} policy ${policy}: ${title}`, () => {
      const send = (request: Omit<Parameters<typeof swaks>[0], 'port'>): SwaksResult =>
        swaks({ port: getServer().port(policy), ...request });
      const expectAccepted = (result: SwaksResult, accepted: boolean): void => {
        expect(result.accepted, explain(result, getServer())).toBe(accepted);
      };

      it(`listed certificate without password is ${clientCertificates === 'none' ? 'refused' : 'accepted'}`, () => {
        expectAccepted(send({ tls: clientTls, certificate: getServer().pki.listed }), clientCertificates !== 'none');
      });

      it('unlisted certificate (valid chain) without password is refused', () => {
        expectAccepted(send({ tls: clientTls, certificate: getServer().pki.unlisted }), false);
      });

      it('no certificate and no password is refused', () => {
        expectAccepted(send({ tls: clientTls }), false);
      });

      it(`password without certificate is ${clientCertificates === 'mandatory' ? 'refused' : 'accepted'}`, () => {
        expectAccepted(send({ tls: clientTls, auth: BOB }), clientCertificates !== 'mandatory');
      });

      if (clientCertificates === 'optional') {
        it('enforced user with password only is refused with the enrol message', () => {
          const result = send({ tls: clientTls, auth: ALICE });
          expectAccepted(result, false);
          expect(result.transcript).toContain(ENROL_MESSAGE);
        });
        it('enforced user with listed certificate and password is accepted', () => {
          expectAccepted(send({ tls: clientTls, auth: ALICE, certificate: getServer().pki.listed }), true);
        });
      }
      if (clientCertificates === 'none') {
        it('the enforcement map does not apply: enforced user with password only is accepted', () => {
          expectAccepted(send({ tls: clientTls, auth: ALICE }), true);
        });
      }
      if (clientCertificates === 'mandatory') {
        it('unlisted certificate with a valid password is refused', () => {
          expectAccepted(send({ tls: clientTls, auth: BOB, certificate: getServer().pki.unlisted }), false);
        });
        it('listed certificate with password is accepted', () => {
          expectAccepted(send({ tls: clientTls, auth: ALICE, certificate: getServer().pki.listed }), true);
        });
      }
      if (tls === 'starttls-mandatory') {
        it('without STARTTLS: AUTH is not offered and MAIL FROM is refused', () => {
          const ehlo = send({ tls: 'none', quitAfter: 'EHLO' });
          expectAccepted(ehlo, true);
          expect(authOffered(ehlo.transcript), ehlo.transcript).toBe(false);
          const mail = send({ tls: 'none', quitAfter: 'MAIL' });
          expect(mail.exitCode, explain(mail, getServer())).toBe(23);
        });
        it('after STARTTLS AUTH is offered', () => {
          const certificate = clientCertificates === 'mandatory' ? getServer().pki.listed : undefined;
          const ehlo = send({ tls: 'starttls', certificate, quitAfter: 'EHLO' });
          expect(authOffered(ehlo.transcript), ehlo.transcript).toBe(true);
        });
      }
      if (tls === 'starttls-optional') {
        it('without STARTTLS: AUTH is offered and a password submission is accepted', () => {
          const ehlo = send({ tls: 'none', quitAfter: 'EHLO' });
          expect(authOffered(ehlo.transcript), ehlo.transcript).toBe(true);
          expectAccepted(send({ tls: 'none', auth: BOB }), true);
        });
      }
    });
  }
}
