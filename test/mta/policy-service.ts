/**
 * The pull client's policy service next to a test Postfix: `mailca-pull --format json --watch --policy-listen`, pulling
 * from a stand-in HTTP server that serves what the test's PublishedFiles hold (the published JSON contract).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StandInServer } from '../pull/policy-fixtures.ts';
import type { PublishedFiles } from './published.ts';

const PULL_CLIENT = join(import.meta.dirname, '..', '..', 'pull', 'mailca-pull.mjs');

export class PolicyService {
  private readonly server = new StandInServer();
  private child: ChildProcess | undefined;
  private text = '';
  private exited: Promise<void> = Promise.resolve();

  constructor(
    private readonly published: PublishedFiles,
    readonly port: number,
    private readonly pulledDir: string,
  ) {}

  /** `inet:127.0.0.1:PORT`, for MtaConfigOptions.policyService. */
  get address(): string {
    return `inet:127.0.0.1:${this.port}`;
  }

  output(): string {
    return this.text;
  }

  private updates(): number {
    return (this.text.match(/ updated /g) ?? []).length;
  }

  private serve(): void {
    this.server.allowlist = this.published.jsonText();
    this.server.senders = readFileSync(this.published.paths.postfixSenders, 'utf8');
  }

  async start(): Promise<void> {
    this.serve();
    const url = await this.server.start();
    const args = [
      PULL_CLIENT, '--url', url, '--token', 'test-token', '--format', 'json',
      '--out', join(this.pulledDir, 'allowlist.json'), '--senders-out', join(this.pulledDir, 'senders.postfix'),
      '--watch', '--policy-listen', this.address,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => (this.text += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.text += d.toString()));
    this.exited = new Promise((done) => child.on('exit', () => done()));
    await this.until(() => this.updates() >= 1 && this.text.includes('policy service listening'), 'the first pull');
  }

  /** Serves the current PublishedFiles and waits until the watching client has pulled (and swapped in) them. */
  async sync(): Promise<void> {
    const before = this.updates();
    this.serve();
    await this.until(() => this.updates() > before, 'the pull of the new list');
  }

  private async until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const started = Date.now();
    while (!cond()) {
      if (Date.now() - started > timeoutMs) throw new Error(`policy service: timed out waiting for ${what}\n${this.text}`);
      if (this.child && this.child.exitCode !== null) throw new Error(`policy service exited:\n${this.text}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
    await this.server.stop();
  }
}
