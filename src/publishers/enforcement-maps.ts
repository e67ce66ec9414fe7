import type { UserEnforcement } from '../enrolment/enforcement-policy.ts';

export const ENFORCEMENT_FORMATS = ['postfix', 'exim'] as const;
export type EnforcementFormat = (typeof ENFORCEMENT_FORMATS)[number];

export function enrolMessage(portalUrl: string): string {
  return `client certificate required - enrol at ${portalUrl}`;
}

/**
 * Postfix check_sasl_access table keyed by SASL login: enforced users are refused when they
 * authenticate with a password alone (a listed certificate is accepted before this check).
 */
export function renderPostfixEnforcement(decisions: readonly UserEnforcement[], portalUrl: string): string {
  const lines = ['# mailca: users who must present a client certificate (check_sasl_access, keyed by SASL login)'];
  for (const d of decisions) if (d.state === 'enforced') lines.push(`${d.email} REJECT 5.7.1 ${enrolMessage(portalUrl)}`);
  return lines.join('\n') + '\n';
}

/** Exim lsearch: enforced users, looked up by $authenticated_id in the submission ACL. */
export function renderEximEnforcement(decisions: readonly UserEnforcement[]): string {
  const lines = ['# mailca: users who must present a client certificate; key = $authenticated_id'];
  for (const d of decisions) if (d.state === 'enforced') lines.push(`${d.email}: enforced`);
  return lines.join('\n') + '\n';
}

export function renderEnforcement(format: EnforcementFormat, decisions: readonly UserEnforcement[], portalUrl: string): string {
  return format === 'postfix' ? renderPostfixEnforcement(decisions, portalUrl) : renderEximEnforcement(decisions);
}
