import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLICY_NUMBERS, renderMtaConfig, type PolicyNumber } from '../../src/publishers/mta-config/index.ts';
import { describePolicyBehaviour } from './behaviour.ts';
import { MTA_SKIP_REASON, MtaTestEnvironment } from './environment.ts';
import { EximInstance } from './exim-instance.ts';
import { policyPorts } from './ports.ts';
import { swaks, type SwaksRequest } from './swaks.ts';

const PORT_BASE = 20600;

describe.skipIf(MTA_SKIP_REASON !== undefined)('Exim runs the generated configs', () => {
  let environment: MtaTestEnvironment;
  // One daemon per policy: the TLS verification options are global in Exim.
  const daemons = new Map<PolicyNumber, EximInstance>();
  const port = (policy: PolicyNumber): number => {
    const ports = policyPorts(PORT_BASE, policy);
    return policy <= 3 ? ports.tlsOnConnect : ports.submission;
  };
  const daemon = (policy: PolicyNumber): EximInstance => {
    const instance = daemons.get(policy);
    if (!instance) throw new Error(`no Exim for policy ${policy}`);
    return instance;
  };

  beforeAll(async () => {
    environment = new MtaTestEnvironment('exim');
    for (const policy of POLICY_NUMBERS) {
      const instance = new EximInstance(join(environment.dir, `exim-p${policy}`));
      instance.writeConfig(renderMtaConfig({ ...environment.renderOptions('exim', policy, PORT_BASE), mta: 'exim' }));
      daemons.set(policy, instance);
      await instance.start();
    }
  });

  afterAll(() => {
    for (const instance of daemons.values()) instance.stop();
    environment?.remove();
  });

  describePolicyBehaviour('exim', () => ({
    pki: environment.pki,
    port,
    log: () => [...daemons.values()].map((instance) => instance.log()).join('\n'),
  }));

  it('a fingerprint removed from the lsearch allow-list is refused on the next connection, without reload', () => {
    const listed: SwaksRequest = { tls: 'starttls', certificate: environment.pki.listed, port: port(8) };
    expect(swaks(listed).accepted).toBe(true);
    environment.published.writeAllowlist([]);
    const afterRemoval = swaks(listed);
    expect(afterRemoval.accepted, afterRemoval.transcript).toBe(false);
    expect(afterRemoval.transcript).toContain('client certificate required - enrol at');
    environment.published.writeAllowlist([environment.pki.listed]);
    expect(swaks(listed).accepted).toBe(true);
  });

  it('a listed certificate revoked in tls_crl is refused after SIGHUP', async () => {
    const onPolicy = (policy: PolicyNumber): SwaksRequest => ({
      tls: policy <= 3 ? 'tls-on-connect' : 'starttls',
      certificate: environment.pki.listed,
      port: port(policy),
    });
    for (const policy of [3, 5, 8] as const) expect(swaks(onPolicy(policy)).accepted).toBe(true);

    environment.pki.revoke(environment.pki.listed.certFile);
    environment.published.refreshCrl();
    // Exim reads the CRL at daemon start only: before SIGHUP the revoked certificate still works.
    expect(swaks(onPolicy(3)).accepted).toBe(true);
    for (const policy of [3, 5, 8] as const) await daemon(policy).reload();

    for (const policy of [3, 5, 8] as const) {
      const result = swaks(onPolicy(policy));
      expect(result.accepted, `policy ${policy}\n${result.transcript}`).toBe(false);
    }
  });
});
