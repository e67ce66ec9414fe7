import type { PolicyNumber } from './types.ts';

export type TlsMode = 'tls-on-connect' | 'starttls-optional' | 'starttls-mandatory';
export type ClientCertificateMode = 'none' | 'optional' | 'mandatory';

export interface PolicyDescription {
  title: string;
  /** What a mail client that presents no certificate experiences. */
  withoutCertificate: string;
  tls: TlsMode;
  clientCertificates: ClientCertificateMode;
}

export const POLICIES: Readonly<Record<PolicyNumber, PolicyDescription>> = {
  1: {
    title: 'TLS on connect (465), no client certificates',
    withoutCertificate: 'Sends after password authentication over TLS; certificates are neither asked for nor used.',
    tls: 'tls-on-connect',
    clientCertificates: 'none',
  },
  2: {
    title: 'TLS on connect (465), optional client certificates',
    withoutCertificate:
      'Sends after password authentication, unless the user is enforced, who is refused with the enrolment link.',
    tls: 'tls-on-connect',
    clientCertificates: 'optional',
  },
  3: {
    title: 'TLS on connect (465), mandatory client certificates',
    withoutCertificate: 'Cannot send at all: only a listed certificate permits mail, a password is not enough.',
    tls: 'tls-on-connect',
    clientCertificates: 'mandatory',
  },
  4: {
    title: 'optional STARTTLS (25/587), no client certificates',
    withoutCertificate:
      'Sends after password authentication, with or without STARTTLS (the password may cross the network in clear).',
    tls: 'starttls-optional',
    clientCertificates: 'none',
  },
  5: {
    title: 'optional STARTTLS (25/587), optional client certificates',
    withoutCertificate:
      'Sends after password authentication, with or without STARTTLS, unless the user is enforced, who is refused with the enrolment link.',
    tls: 'starttls-optional',
    clientCertificates: 'optional',
  },
  6: {
    title: 'mandatory STARTTLS (25/587), no client certificates',
    withoutCertificate: 'Sends after STARTTLS and password authentication; AUTH is not offered before STARTTLS.',
    tls: 'starttls-mandatory',
    clientCertificates: 'none',
  },
  7: {
    title: 'mandatory STARTTLS (25/587), optional client certificates',
    withoutCertificate:
      'Sends after STARTTLS and password authentication, unless the user is enforced, who is refused with the enrolment link.',
    tls: 'starttls-mandatory',
    clientCertificates: 'optional',
  },
  8: {
    title: 'mandatory STARTTLS (25/587), mandatory client certificates',
    withoutCertificate: 'Cannot send at all: after STARTTLS only a listed certificate permits mail.',
    tls: 'starttls-mandatory',
    clientCertificates: 'mandatory',
  },
};

export const POLICY_NUMBERS: readonly PolicyNumber[] = [1, 2, 3, 4, 5, 6, 7, 8];

/** The heading of a submission policy's configuration. */
export function policyTitle(policy: PolicyNumber): string {
  return `mailca policy ${policy}: ${POLICIES[policy].title}\nWithout a certificate: ${POLICIES[policy].withoutCertificate}`;
}

/**
 * Whether a password alone permits mail under the policy (no or optional client certificates). Then password users
 * may send only as their own addresses and aliases (and the null sender): the MTAs look the login up in mailca's
 * senders table.
 */
export function bindsPasswordSenders(policy: PolicyNumber): boolean {
  const mode = POLICIES[policy].clientCertificates;
  switch (mode) {
    case 'none':
    case 'optional':
      return true;
    case 'mandatory':
      return false;
  }
}

/** What submission MTAs' generators say they configure. */
export const SUBMISSION = 'submission';
