/** Test mail users. alice owns the listed certificate and is enforced; bob owns the unlisted one and is not. */
export const ALICE = { login: 'alice@example.test', password: 'alice-secret' } as const;
export const BOB = { login: 'bob@example.test', password: 'bob-secret' } as const;
export const MAIL_USERS = [ALICE, BOB] as const;
