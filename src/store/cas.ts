import type { Knex } from 'knex';
import type { ChangeStore } from './changes.ts';
import type { CaKeyLocation, CaRecord, CaStatus, StoredCrl } from './types.ts';

interface CaRow {
  id: number;
  name: string;
  key_algorithm: string;
  certificate_pem: string;
  encrypted_key_pem: string;
  key_location: string | null;
  fingerprint_sha256: string;
  not_before: number;
  not_after: number;
  status: CaStatus;
  created_at: number;
  cross_certificate_pem: string | null;
  retired_at: number | null;
}

/** The key_location column: JSON without the key itself; a file key's encrypted PEM has its own column. */
function keyLocationOf(r: Pick<CaRow, 'id' | 'key_location' | 'encrypted_key_pem'>): CaKeyLocation {
  const stored = JSON.parse(r.key_location ?? '{"kind":"file"}') as { kind?: unknown; tokenLabel?: unknown; keyLabel?: unknown; keyId?: unknown };
  if (stored.kind === 'file') return { kind: 'file', encryptedKeyPem: r.encrypted_key_pem };
  if (stored.kind === 'pkcs11' && typeof stored.tokenLabel === 'string' && typeof stored.keyLabel === 'string' && typeof stored.keyId === 'string') {
    return { kind: 'pkcs11', tokenLabel: stored.tokenLabel, keyLabel: stored.keyLabel, keyId: stored.keyId };
  }
  throw new Error(`CA ${r.id}: unreadable key_location ${r.key_location ?? ''}`);
}

function keyColumns(key: CaKeyLocation): Pick<CaRow, 'key_location' | 'encrypted_key_pem'> {
  switch (key.kind) {
    case 'file':
      return { key_location: JSON.stringify({ kind: 'file' }), encrypted_key_pem: key.encryptedKeyPem };
    case 'pkcs11':
      return { key_location: JSON.stringify({ kind: 'pkcs11', tokenLabel: key.tokenLabel, keyLabel: key.keyLabel, keyId: key.keyId }), encrypted_key_pem: '' };
  }
}

const toCa = (r: CaRow): CaRecord => ({
  id: r.id,
  name: r.name,
  keyAlgorithm: r.key_algorithm,
  certificatePem: r.certificate_pem,
  key: keyLocationOf(r),
  fingerprintSha256: r.fingerprint_sha256,
  notBefore: new Date(r.not_before),
  notAfter: new Date(r.not_after),
  status: r.status,
  createdAt: new Date(r.created_at),
  crossCertificatePem: r.cross_certificate_pem,
  retiredAt: r.retired_at === null ? null : new Date(Number(r.retired_at)),
});

export class CaStore {
  constructor(
    private readonly db: Knex,
    private readonly changes: ChangeStore,
  ) {}

  async insert(ca: Omit<CaRecord, 'id' | 'crossCertificatePem' | 'retiredAt'>): Promise<CaRecord> {
    const [row] = await this.db<CaRow>('cas')
      .insert({
        name: ca.name,
        key_algorithm: ca.keyAlgorithm,
        certificate_pem: ca.certificatePem,
        ...keyColumns(ca.key),
        fingerprint_sha256: ca.fingerprintSha256,
        not_before: ca.notBefore.getTime(),
        not_after: ca.notAfter.getTime(),
        status: ca.status,
        created_at: ca.createdAt.getTime(),
      })
      .returning('*');
    await this.changes.record('all');
    return toCa(row as CaRow);
  }

  /** The CA that issues now: the newest one marked active. */
  async findActive(): Promise<CaRecord | undefined> {
    const row = await this.db<CaRow>('cas').where({ status: 'active' }).orderBy('id', 'desc').first();
    return row && toCa(row);
  }

  /** CAs whose certificates may still be in use (not retired), oldest first. */
  async listTrusted(): Promise<CaRecord[]> {
    const rows = await this.db<CaRow>('cas').whereNot({ status: 'retired' }).orderBy('id');
    return rows.map(toCa);
  }

  async list(): Promise<CaRecord[]> {
    return (await this.db<CaRow>('cas').orderBy('id')).map(toCa);
  }

  async findById(id: number): Promise<CaRecord | undefined> {
    const row = await this.db<CaRow>('cas').where({ id }).first();
    return row && toCa(row);
  }

  async setStatus(id: number, status: CaStatus, at: Date): Promise<void> {
    await this.db('cas').where({ id }).update({ status, ...(status === 'retired' ? { retired_at: at.getTime() } : {}) });
    await this.changes.record('all');
  }

  async setCrossCertificate(id: number, pem: string): Promise<void> {
    await this.db('cas').where({ id }).update({ cross_certificate_pem: pem });
  }
}

interface CrlRow {
  ca_id: number;
  crl_number: number;
  this_update: number;
  next_update: number;
  crl_der: Uint8Array;
  state_hash: string;
}

type CrlMeta = Omit<StoredCrl, 'crlDer'>;

const toCrlMeta = (r: Omit<CrlRow, 'crl_der'>): CrlMeta => ({
  caId: r.ca_id,
  crlNumber: Number(r.crl_number),
  thisUpdate: new Date(Number(r.this_update)),
  nextUpdate: new Date(Number(r.next_update)),
  stateHash: r.state_hash,
});

const toCrl = (r: CrlRow): StoredCrl => ({ ...toCrlMeta(r), crlDer: new Uint8Array(r.crl_der) });

export class CrlStore {
  constructor(private readonly db: Knex) {}

  async find(caId: number): Promise<StoredCrl | undefined> {
    const row = await this.db<CrlRow>('crls').where({ ca_id: caId }).first();
    return row && toCrl(row);
  }

  /** The CA's current CRL without its bytes (megabytes at 100k entries): enough to tell whether it needs re-signing. */
  async findMeta(caId: number): Promise<CrlMeta | undefined> {
    const row = await this.db<CrlRow>('crls').select('ca_id', 'crl_number', 'this_update', 'next_update', 'state_hash').where({ ca_id: caId }).first();
    return row && toCrlMeta(row);
  }

  async listForCas(caIds: number[]): Promise<StoredCrl[]> {
    const rows = await this.db<CrlRow>('crls').whereIn('ca_id', caIds).orderBy('ca_id');
    return rows.map(toCrl);
  }

  /** Replaces the CA's current CRL. Callers allocate crlNumber under Store.withLock('crl'). */
  async save(crl: StoredCrl): Promise<void> {
    await this.db('crls')
      .insert({
        ca_id: crl.caId,
        crl_number: crl.crlNumber,
        this_update: crl.thisUpdate.getTime(),
        next_update: crl.nextUpdate.getTime(),
        crl_der: Buffer.from(crl.crlDer.buffer, crl.crlDer.byteOffset, crl.crlDer.byteLength),
        state_hash: crl.stateHash,
      })
      .onConflict('ca_id')
      .merge();
  }
}
