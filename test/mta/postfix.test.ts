import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLICY_NUMBERS, renderMtaConfig, type PolicyNumber } from '../../src/publishers/mta-config/index.ts';
import { describePolicyBehaviour } from './behaviour.ts';
import { MTA_SKIP_REASON, MtaTestEnvironment } from './environment.ts';
import { policyPorts } from './ports.ts';
import { PostfixInstance } from './postfix-instance.ts';
import { swaks } from './swaks.ts';
import { join } from 'node:path';

const PORT_BASE = 20400;

describe.skipIf(MTA_SKIP_REASON !== undefined)('Postfix runs the generated configs', () => {
  let environment: MtaTestEnvironment;
  let postfix: PostfixInstance;
  const port = (policy: PolicyNumber): number => {
    const ports = policyPorts(PORT_BASE, policy);
    return policy <= 3 ? ports.tlsOnConnect : ports.submission;
  };

  beforeAll(() => {
    environment = new MtaTestEnvironment('postfix');
    postfix = new PostfixInstance(join(environment.dir, 'postfix'));
    // One instance serves all eight policies, each on its own port (mailca_pN_* parameters do not collide).
    postfix.writeConfig(POLICY_NUMBERS.map((policy) => renderMtaConfig({ ...environment.renderOptions('postfix', policy, PORT_BASE), mta: 'postfix' })));
    postfix.start();
  });

  afterAll(() => {
    postfix?.stop();
    environment?.remove();
  });

  describePolicyBehaviour('postfix', () => ({ pki: environment.pki, port, log: () => postfix.log() }));

  it('a fingerprint removed from the allow-list is refused on the next connection after postfix reload', () => {
    const listed = { tls: 'tls-on-connect' as const, certificate: environment.pki.listed, port: port(3) };
    expect(swaks(listed).accepted).toBe(true);
    environment.published.writeAllowlist([]);
    postfix.reload();
    const afterRemoval = swaks(listed);
    expect(afterRemoval.accepted, afterRemoval.transcript).toBe(false);
    expect(afterRemoval.transcript).toContain('client certificate required - enrol at');
    environment.published.writeAllowlist([environment.pki.listed]);
    postfix.reload();
    expect(swaks(listed).accepted).toBe(true);
  });
});
