import { describe, expect, it } from 'vitest';
import { authenticationWording, submissionAdvice, type SubmissionAuth } from '../../web/src/views/smtp-auth.ts';

// The portal's instruction text, DOM-free: what users are told to choose follows the site's set-up
// (MAILCA_SUBMISSION_AUTH) and their migration state from GET /api/v1/portal-settings.
describe('submissionAdvice: the SMTP authentication method the portal tells a user to choose', () => {
  const auths: SubmissionAuth[] = ['none', 'external'];

  it.each(auths)('in grace (auth %s): "Normal password" now, and which method to switch to once a certificate is required', (auth) => {
    const scheduled = submissionAdvice(auth, { state: 'grace', enforced_from: '2027-03-01T00:00:00.000Z' });
    expect(scheduled.method).toBe('Normal password');
    expect(scheduled.certificateRequired).toBe(false);
    expect(scheduled.explanation).toContain('“Normal password”');
    expect(scheduled.explanation).toContain(`then choose “${authenticationWording(auth).method}” instead`);
    expect(scheduled.explanation).toMatch(/A certificate will be required from .*2027/);

    const unscheduled = submissionAdvice(auth, { state: 'grace', enforced_from: null });
    expect(unscheduled.method).toBe('Normal password');
    expect(unscheduled.explanation).toContain('once your administrator requires it');
  });

  it('enforced: a certificate is required, with "TLS Certificate" only where the server offers AUTH EXTERNAL', () => {
    for (const [auth, method] of [
      ['none', 'No authentication'],
      ['external', 'TLS Certificate'],
    ] as const) {
      const advice = submissionAdvice(auth, { state: 'enforced', enforced_from: '2026-01-01T00:00:00.000Z' });
      expect(advice.method).toBe(method);
      expect(advice.certificateRequired).toBe(true);
      expect(advice.explanation).toContain('A certificate is required for your address: your password alone no longer sends mail.');
      expect(advice.explanation).toContain(authenticationWording(auth).explanation);
      expect(advice.explanation).not.toContain('Normal password');
    }
  });

  it('without a state from the server: the certificate method only, no claim about passwords', () => {
    for (const auth of auths) {
      const advice = submissionAdvice(auth, null);
      expect(advice).toEqual({ method: authenticationWording(auth).method, certificateRequired: false, explanation: authenticationWording(auth).explanation });
    }
  });
});
