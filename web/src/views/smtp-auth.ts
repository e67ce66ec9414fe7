/**
 * What the portal tells users to choose as the SMTP authentication method, from the site's set-up
 * (MAILCA_SUBMISSION_AUTH). Pure: no DOM, so a test can hold it against what the mail servers advertise.
 */
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
