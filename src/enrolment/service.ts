import { addAlias, listAliases, removeAlias } from './aliases.ts';
import { caOverview } from './ca-rollover.ts';
import { audit, type Actor, type EnrolmentContext } from './context.ts';
import { enrol, unfinishedIssuances } from './enrol.ts';
import { enforceEnrolled, enrolmentHistory, listEnforcement, readiness, setEnforcementPolicy, setEveryoneEnforcement, setUserEnforcement, userEnforcement } from './enforcement.ts';
import { reenrolWithCertificate } from './est.ts';
import { passwordLogin } from './login.ts';
import { endOverlap, renew } from './renew.ts';
import { revoke } from './revoke.ts';
import { admitIdentity, disableLeaver, redirectSignIn } from './sign-in.ts';
import { authenticateToken, createToken, revokeToken } from './tokens.ts';
import { listUsers } from './user-list.ts';
import { addUser, changeOwnPassword, disableUser, enableUser, resetPassword, unlockUser } from './users.ts';

/**
 * The enrolment functions bound to one context: what the HTTP tier may do. Each is the enrolment
 * function of the same name without its context argument (changes take the actor, then the
 * request). Whoever holds this object can ask for certificates under the enrolment policy, but
 * never reaches the context itself: not the keyring, not the writable store.
 */
export function bindEnrolment(ctx: EnrolmentContext) {
  const bind =
    <A extends unknown[], T>(f: (c: EnrolmentContext, ...a: A) => T) =>
    (...a: A): T =>
      f(ctx, ...a);
  return Object.freeze({
    // Certificates
    enrol: bind(enrol),
    renew: bind(renew),
    endOverlap: bind(endOverlap),
    revoke: bind(revoke),
    reenrolWithCertificate: bind(reenrolWithCertificate),
    // Users, aliases, tokens
    listUsers: bind(listUsers),
    addUser: bind(addUser),
    disableUser: bind(disableUser),
    enableUser: bind(enableUser),
    unlockUser: bind(unlockUser),
    resetPassword: bind(resetPassword),
    changeOwnPassword: bind(changeOwnPassword),
    listAliases: bind(listAliases),
    addAlias: bind(addAlias),
    removeAlias: bind(removeAlias),
    createToken: bind(createToken),
    revokeToken: bind(revokeToken),
    authenticateToken: (token: string) => authenticateToken(ctx.store, token),
    // Enforcement and readiness
    listEnforcement: bind(listEnforcement),
    userEnforcement: bind(userEnforcement),
    setUserEnforcement: bind(setUserEnforcement),
    setEveryoneEnforcement: bind(setEveryoneEnforcement),
    enforceEnrolled: bind(enforceEnrolled),
    setEnforcementPolicy: bind(setEnforcementPolicy),
    enrolmentHistory: bind(enrolmentHistory),
    readiness: bind(readiness),
    // CAs and the issuance record
    caOverview: bind(caOverview),
    unfinishedIssuances: bind(unfinishedIssuances),
    // Sign-in
    passwordLogin: bind(passwordLogin),
    admitIdentity: bind(admitIdentity),
    redirectSignIn: bind(redirectSignIn),
    disableLeaver: bind(disableLeaver),
    signedOut: (actor: Actor, email: string) => audit(ctx, actor, 'logout', email),
  });
}

export type EnrolmentService = ReturnType<typeof bindEnrolment>;
