/**
 * What the portal tells users to choose as the SMTP authentication method, from the site's set-up
 * (MAILCA_SUBMISSION_AUTH) and the user's migration state. Pure: no DOM, so a test can hold it against what the
 * mail servers advertise.
 */
import type { MigrationState } from '../api.ts';
import { formatDate } from '../format.ts';

export type SubmissionAuth = 'none' | 'external';

export interface AuthenticationWording {
  /** The method's name as mail programs show it (Thunderbird, Apple Mail). */
  method: 'TLS Certificate' | 'No authentication';
  /** One sentence for the settings card. */
  explanation: string;
}

/**
 * "TLS certificate" sends SASL EXTERNAL, so it is right only where the server offers AUTH EXTERNAL (the generated
 * Exim configs); elsewhere (Postfix) "No authentication" works: the program still sends the certificate when the
 * server asks for one.
 */
export function authenticationWording(auth: SubmissionAuth): AuthenticationWording {
  switch (auth) {
    case 'external':
      return { method: 'TLS Certificate', explanation: 'Choose “TLS certificate” (client certificate) and the certificate for your address.' };
    case 'none':
      return {
        method: 'No authentication',
        explanation: 'Choose “No authentication” (or “None”): your mail program sends the certificate when the server asks for it.',
      };
  }
}

export interface SubmissionAdvice {
  /** The method to choose now, as mail programs name it. */
  method: AuthenticationWording['method'] | 'Normal password';
  /** Whether the server requires this user's certificate now (enforced). */
  certificateRequired: boolean;
  /** One or two sentences for the settings card. */
  explanation: string;
}

/**
 * The method for this user now: in grace their password still sends mail everywhere (with "Normal password" the
 * program authenticates with it and still presents the certificate when the server asks), so they are told to use
 * it and what to switch to once a certificate is required; enforced, a certificate is required and the method is
 * the certificate's (authenticationWording). Without a state (null) only the certificate's method is given.
 */
export function submissionAdvice(auth: SubmissionAuth, migration: MigrationState | null): SubmissionAdvice {
  const certificate = authenticationWording(auth);
  switch (migration?.state) {
    case 'grace': {
      const when = migration.enforced_from ? `from ${formatDate(migration.enforced_from)}` : 'once your administrator requires it';
      return {
        method: 'Normal password',
        certificateRequired: false,
        explanation:
          'For now choose “Normal password” with your address and mail password: your mail program also sends the certificate when the server asks for it. ' +
          `A certificate will be required ${when}; then choose “${certificate.method}” instead.`,
      };
    }
    case 'enforced':
      return { method: certificate.method, certificateRequired: true, explanation: `A certificate is required for your address: your password alone no longer sends mail. ${certificate.explanation}` };
    case undefined:
      return { method: certificate.method, certificateRequired: false, explanation: certificate.explanation };
  }
}
