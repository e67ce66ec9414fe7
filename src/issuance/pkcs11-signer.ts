import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Mechanism, PKCS11, Template } from 'pkcs11js';
import { ConfigError } from '../errors.ts';
import { derSequence, derUnsignedInteger } from './der.ts';
import type { KeyAlgorithm, Signer } from './signer.ts';

/** What the configuration says about the token (MAILCA_PKCS11_*). */
export interface Pkcs11Settings {
  module?: string;
  tokenLabel?: string;
  pin?: string;
  pinFile?: string;
  keyLabel?: string;
}

/** A key pair in a token, as the database refers to it. */
export interface Pkcs11KeyReference {
  tokenLabel: string;
  keyLabel: string;
  /** CKA_ID in hex; '' when the key has none (then the label alone names it). */
  keyId: string;
}

type Handle = Buffer;

// The native binding is loaded on first use: without a CA key in a token it is never loaded.
let binding: typeof import('pkcs11js') | undefined;
const pkcs11js = (): typeof import('pkcs11js') => (binding ??= createRequire(import.meta.url)('pkcs11js') as typeof import('pkcs11js'));

const EC_CURVES = {
  'P-256': { oid: Buffer.from('06082a8648ce3d030107', 'hex'), size: 32, hash: 'sha256' },
  'P-384': { oid: Buffer.from('06052b81040022', 'hex'), size: 48, hash: 'sha384' },
} as const;
const RSA_BITS = 3072;
// Session states (PKCS#11 2.40 §5.7) in which the user is logged in; pkcs11js does not name them.
const CKS_RO_USER_FUNCTIONS = 1;
const CKS_RW_USER_FUNCTIONS = 3;

function isPkcs11Error(e: unknown, code: number): boolean {
  return e instanceof pkcs11js().Pkcs11Error && e.code === code;
}

/** The PIN: MAILCA_PKCS11_PIN, or the first line of MAILCA_PKCS11_PIN_FILE (one trailing newline dropped). */
function resolvePin(settings: Pkcs11Settings): { pin: string; source: string } {
  if (settings.pin) return { pin: settings.pin, source: 'MAILCA_PKCS11_PIN' };
  if (settings.pinFile) {
    let text: string;
    try {
      text = readFileSync(settings.pinFile, 'utf8');
    } catch (e) {
      throw new ConfigError('pkcs11_pin', `cannot read the PKCS#11 PIN file ${settings.pinFile} (MAILCA_PKCS11_PIN_FILE): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const pin = text.replace(/\r?\n$/, '');
    if (pin === '') throw new ConfigError('pkcs11_pin', `the PKCS#11 PIN file ${settings.pinFile} (MAILCA_PKCS11_PIN_FILE) is empty`);
    return { pin, source: `MAILCA_PKCS11_PIN_FILE ${settings.pinFile}` };
  }
  throw new ConfigError('pkcs11_pin', 'no PKCS#11 PIN: set MAILCA_PKCS11_PIN or MAILCA_PKCS11_PIN_FILE');
}

// C_Initialize may be called once per process and module; C_Finalize ends every session of it. So
// each module is initialised on first use and finalised when its last token is closed.
const modules = new Map<string, { lib: PKCS11; users: number }>();

function acquireModule(path: string): PKCS11 {
  const known = modules.get(path);
  if (known) {
    known.users++;
    return known.lib;
  }
  const lib = new (pkcs11js().PKCS11)();
  try {
    lib.load(path);
  } catch (e) {
    throw new ConfigError('pkcs11_module', `cannot load the PKCS#11 module ${path} (MAILCA_PKCS11_MODULE): ${(e as Error).message}`);
  }
  try {
    lib.C_Initialize();
  } catch (e) {
    if (!isPkcs11Error(e, pkcs11js().CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
      lib.close();
      throw new ConfigError('pkcs11_module', `the PKCS#11 module ${path} (MAILCA_PKCS11_MODULE) failed to start: ${(e as Error).message}`);
    }
  }
  modules.set(path, { lib, users: 1 });
  return lib;
}

function releaseModule(path: string): void {
  const known = modules.get(path);
  if (!known || --known.users > 0) return;
  modules.delete(path);
  try {
    known.lib.C_Finalize();
  } finally {
    known.lib.close();
  }
}

const ulong = (b: Buffer | undefined): number => (b && b.length ? b.readUIntLE(0, Math.min(b.length, 6)) : -1);
const b64url = (b: Buffer): string => b.toString('base64url');

/** CKA_EC_POINT is a DER OCTET STRING around the point (some modules give the raw point). */
function uncompressedPoint(ecPoint: Buffer, size: number): Buffer {
  const raw = 1 + 2 * size;
  const point = ecPoint.length === raw ? ecPoint : ecPoint.subarray(ecPoint.length - raw);
  if (point.length !== raw || point[0] !== 0x04) throw new Error('PKCS#11: unexpected CKA_EC_POINT encoding');
  return point;
}

/** A session with one token, logged in as the user. One per token and process; closed at shutdown. */
export class Pkcs11Token {
  readonly #lib: PKCS11;
  readonly #session: Handle;
  readonly #pin: { pin: string; source: string };
  #closed = false;

  private constructor(
    readonly modulePath: string,
    readonly label: string,
    lib: PKCS11,
    session: Handle,
    pin: { pin: string; source: string },
  ) {
    this.#lib = lib;
    this.#session = session;
    this.#pin = pin;
  }

  /** Opens a session on the token with this label and logs in; a wrong PIN or a missing token is one clear error. */
  static open(settings: Pkcs11Settings, tokenLabel: string): Pkcs11Token {
    if (!settings.module) throw new ConfigError('pkcs11_module', `MAILCA_PKCS11_MODULE is not set: it names the PKCS#11 module for token "${tokenLabel}" (e.g. /usr/lib/softhsm/libsofthsm2.so)`);
    const pin = resolvePin(settings);
    const lib = acquireModule(settings.module);
    let session: Handle | undefined;
    try {
      const slots = lib.C_GetSlotList(true);
      const labels = slots.map((slot) => ({ slot, label: lib.C_GetTokenInfo(slot).label.trimEnd() }));
      const match = labels.filter((l) => l.label === tokenLabel);
      if (match.length === 0) {
        const seen = labels.map((l) => `"${l.label}"`).filter((l) => l !== '""');
        throw new ConfigError('pkcs11_token', `no PKCS#11 token labelled "${tokenLabel}" in ${settings.module} (MAILCA_PKCS11_TOKEN_LABEL); tokens there: ${seen.join(', ') || 'none'}`);
      }
      if (match.length > 1) throw new ConfigError('pkcs11_token', `${match.length} PKCS#11 tokens are labelled "${tokenLabel}" in ${settings.module}: give them distinct labels`);
      session = lib.C_OpenSession(match[0]!.slot, pkcs11js().CKF_SERIAL_SESSION | pkcs11js().CKF_RW_SESSION);
      const token = new Pkcs11Token(settings.module, tokenLabel, lib, session, pin);
      token.#login();
      return token;
    } catch (e) {
      if (session) lib.C_CloseSession(session);
      releaseModule(settings.module);
      throw e;
    }
  }

  #login(): void {
    try {
      this.#lib.C_Login(this.#session, pkcs11js().CKU_USER, this.#pin.pin);
    } catch (e) {
      if (isPkcs11Error(e, pkcs11js().CKR_USER_ALREADY_LOGGED_IN)) return; // another session of this process did
      if (isPkcs11Error(e, pkcs11js().CKR_PIN_INCORRECT) || isPkcs11Error(e, pkcs11js().CKR_PIN_LEN_RANGE)) {
        throw new ConfigError('pkcs11_pin', `wrong PIN for PKCS#11 token "${this.label}" (${this.#pin.source})`);
      }
      if (isPkcs11Error(e, pkcs11js().CKR_PIN_LOCKED)) throw new ConfigError('pkcs11_pin', `the user PIN of PKCS#11 token "${this.label}" is locked: unlock it with the SO PIN`);
      throw new ConfigError('pkcs11_login', `cannot log in to PKCS#11 token "${this.label}": ${(e as Error).message}`);
    }
  }

  /**
   * Runs a token operation logged in: the login is per process and token, so another session's
   * C_Logout (or a token reset) ends it for this one too; then this logs in again first.
   */
  #loggedIn<T>(fn: () => T): T {
    if (this.#closed) throw new Error(`PKCS#11 token "${this.label}" is closed`);
    const { state } = this.#lib.C_GetSessionInfo(this.#session);
    if (state !== CKS_RO_USER_FUNCTIONS && state !== CKS_RW_USER_FUNCTIONS) this.#login();
    try {
      return fn();
    } catch (e) {
      if (!isPkcs11Error(e, pkcs11js().CKR_USER_NOT_LOGGED_IN)) throw e;
      this.#login();
      return fn();
    }
  }

  #find(template: Template): Handle[] {
    return this.#loggedIn(() => {
      this.#lib.C_FindObjectsInit(this.#session, template);
      try {
        return this.#lib.C_FindObjects(this.#session, 16);
      } finally {
        this.#lib.C_FindObjectsFinal(this.#session);
      }
    });
  }

  #attributes(handle: Handle, types: number[]): Map<number, Buffer> {
    const values = this.#loggedIn(() => this.#lib.C_GetAttributeValue(this.#session, handle, types.map((type) => ({ type }))));
    return new Map(values.map((a) => [a.type, a.value]));
  }

  /** The key pair with this label (and CKA_ID, if given), or undefined; several with the label is an error. */
  findKeyPair(keyLabel: string, keyId?: string): { privateKey: Handle; publicKey: Handle; keyId: string } | undefined {
    const named = (cls: number): Template => [
      { type: pkcs11js().CKA_CLASS, value: cls },
      { type: pkcs11js().CKA_LABEL, value: keyLabel },
      ...(keyId ? [{ type: pkcs11js().CKA_ID, value: Buffer.from(keyId, 'hex') }] : []),
    ];
    const privateKeys = this.#find(named(pkcs11js().CKO_PRIVATE_KEY));
    if (privateKeys.length === 0) return undefined;
    if (privateKeys.length > 1) throw new ConfigError('pkcs11_key', `${privateKeys.length} private keys are labelled "${keyLabel}" in PKCS#11 token "${this.label}": choose another MAILCA_PKCS11_KEY_LABEL`);
    const privateKey = privateKeys[0]!;
    const id = (this.#attributes(privateKey, [pkcs11js().CKA_ID]).get(pkcs11js().CKA_ID) ?? Buffer.alloc(0)).toString('hex');
    const publicKeys = this.#find([{ type: pkcs11js().CKA_CLASS, value: pkcs11js().CKO_PUBLIC_KEY }, { type: pkcs11js().CKA_LABEL, value: keyLabel }, ...(id ? [{ type: pkcs11js().CKA_ID, value: Buffer.from(id, 'hex') }] : [])]);
    if (publicKeys.length !== 1) throw new ConfigError('pkcs11_key', `PKCS#11 token "${this.label}" has a private key labelled "${keyLabel}" but ${publicKeys.length === 0 ? 'no' : 'more than one'} public key with that label and id`);
    return { privateKey, publicKey: publicKeys[0]!, keyId: id };
  }

  /** Generates a key pair in the token: the private key is sensitive and can never be extracted. */
  generateKeyPair(keyLabel: string, alg: KeyAlgorithm): { privateKey: Handle; publicKey: Handle; keyId: string } {
    const id = randomBytes(16);
    const common = [
      { type: pkcs11js().CKA_TOKEN, value: true },
      { type: pkcs11js().CKA_LABEL, value: keyLabel },
      { type: pkcs11js().CKA_ID, value: id },
    ];
    const privateTemplate: Template = [
      ...common,
      { type: pkcs11js().CKA_CLASS, value: pkcs11js().CKO_PRIVATE_KEY },
      { type: pkcs11js().CKA_PRIVATE, value: true },
      { type: pkcs11js().CKA_SENSITIVE, value: true },
      { type: pkcs11js().CKA_EXTRACTABLE, value: false },
      { type: pkcs11js().CKA_SIGN, value: true },
      { type: pkcs11js().CKA_DECRYPT, value: false },
      { type: pkcs11js().CKA_DERIVE, value: false },
    ];
    const publicTemplate: Template = [...common, { type: pkcs11js().CKA_CLASS, value: pkcs11js().CKO_PUBLIC_KEY }, { type: pkcs11js().CKA_VERIFY, value: true }, { type: pkcs11js().CKA_PRIVATE, value: false }];
    let mechanism: Mechanism;
    switch (alg) {
      case 'P-256':
      case 'P-384':
        mechanism = { mechanism: pkcs11js().CKM_EC_KEY_PAIR_GEN };
        publicTemplate.push({ type: pkcs11js().CKA_KEY_TYPE, value: pkcs11js().CKK_EC }, { type: pkcs11js().CKA_EC_PARAMS, value: EC_CURVES[alg].oid });
        privateTemplate.push({ type: pkcs11js().CKA_KEY_TYPE, value: pkcs11js().CKK_EC });
        break;
      case 'RSA-3072':
        mechanism = { mechanism: pkcs11js().CKM_RSA_PKCS_KEY_PAIR_GEN };
        publicTemplate.push({ type: pkcs11js().CKA_KEY_TYPE, value: pkcs11js().CKK_RSA }, { type: pkcs11js().CKA_MODULUS_BITS, value: RSA_BITS }, { type: pkcs11js().CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) });
        privateTemplate.push({ type: pkcs11js().CKA_KEY_TYPE, value: pkcs11js().CKK_RSA });
        break;
    }
    const pair = this.#loggedIn(() => this.#lib.C_GenerateKeyPair(this.#session, mechanism, publicTemplate, privateTemplate));
    return { ...pair, keyId: id.toString('hex') };
  }

  /** The key algorithm and DER SubjectPublicKeyInfo of a public key object; other kinds and sizes are refused. */
  publicKeyOf(publicKey: Handle, keyLabel: string): { keyAlgorithm: KeyAlgorithm; spki: Uint8Array } {
    const keyType = ulong(this.#attributes(publicKey, [pkcs11js().CKA_KEY_TYPE]).get(pkcs11js().CKA_KEY_TYPE));
    const unsupported = (what: string) => new ConfigError('pkcs11_key', `the key "${keyLabel}" in PKCS#11 token "${this.label}" is ${what}; mailca signs with P-256, P-384 or RSA-3072`);
    if (keyType === pkcs11js().CKK_EC) {
      const a = this.#attributes(publicKey, [pkcs11js().CKA_EC_PARAMS, pkcs11js().CKA_EC_POINT]);
      const params = a.get(pkcs11js().CKA_EC_PARAMS) ?? Buffer.alloc(0);
      const curve = (Object.keys(EC_CURVES) as (keyof typeof EC_CURVES)[]).find((c) => EC_CURVES[c].oid.equals(params));
      if (!curve) throw unsupported(`an EC key on another curve (${params.toString('hex')})`);
      const size = EC_CURVES[curve].size;
      const point = uncompressedPoint(a.get(pkcs11js().CKA_EC_POINT) ?? Buffer.alloc(0), size);
      const key = createPublicKey({ key: { kty: 'EC', crv: curve, x: b64url(point.subarray(1, 1 + size)), y: b64url(point.subarray(1 + size)) }, format: 'jwk' });
      return { keyAlgorithm: curve, spki: new Uint8Array(key.export({ type: 'spki', format: 'der' })) };
    }
    if (keyType === pkcs11js().CKK_RSA) {
      const a = this.#attributes(publicKey, [pkcs11js().CKA_MODULUS, pkcs11js().CKA_PUBLIC_EXPONENT]);
      const n = a.get(pkcs11js().CKA_MODULUS) ?? Buffer.alloc(0);
      const key = createPublicKey({ key: { kty: 'RSA', n: b64url(n), e: b64url(a.get(pkcs11js().CKA_PUBLIC_EXPONENT) ?? Buffer.alloc(0)) }, format: 'jwk' });
      const bits = key.asymmetricKeyDetails?.modulusLength;
      if (bits !== RSA_BITS) throw unsupported(`an RSA-${bits ?? '?'} key`);
      return { keyAlgorithm: 'RSA-3072', spki: new Uint8Array(key.export({ type: 'spki', format: 'der' })) };
    }
    throw unsupported(`of key type ${keyType}`);
  }

  /** One signature: C_SignInit and C_Sign in one synchronous step, so concurrent callers cannot interleave. */
  sign(privateKey: Handle, mechanism: number, input: Buffer, outputLength: number): Buffer {
    return this.#loggedIn(() => {
      this.#lib.C_SignInit(this.#session, { mechanism }, privateKey);
      return this.#lib.C_Sign(this.#session, input, Buffer.alloc(outputLength));
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#lib.C_CloseSession(this.#session); // the login ends with the process's last session
    } finally {
      releaseModule(this.modulePath);
    }
  }
}

/** Signs with a private key that stays inside a PKCS#11 token. */
export class Pkcs11Signer implements Signer {
  readonly keyAlgorithm: KeyAlgorithm;
  readonly publicKeySpki: Uint8Array;
  readonly reference: Pkcs11KeyReference;

  #privateKey: Handle;

  private constructor(
    private readonly token: Pkcs11Token,
    privateKey: Handle,
    key: { keyAlgorithm: KeyAlgorithm; spki: Uint8Array },
    reference: Pkcs11KeyReference,
  ) {
    this.#privateKey = privateKey;
    this.keyAlgorithm = key.keyAlgorithm;
    this.publicKeySpki = key.spki;
    this.reference = reference;
  }

  /** The signer for an existing key pair; a missing key is a clear error. */
  static find(token: Pkcs11Token, keyLabel: string, keyId: string): Pkcs11Signer {
    const pair = token.findKeyPair(keyLabel, keyId || undefined);
    if (!pair) {
      throw new ConfigError('pkcs11_key', `PKCS#11 token "${token.label}" has no key labelled "${keyLabel}"${keyId ? ` with id ${keyId}` : ''}`);
    }
    return new Pkcs11Signer(token, pair.privateKey, token.publicKeyOf(pair.publicKey, keyLabel), { tokenLabel: token.label, keyLabel, keyId: pair.keyId });
  }

  /** The key pair with this label if the token has one (it must be of `alg`), else a new one. */
  static findOrGenerate(token: Pkcs11Token, keyLabel: string, alg: KeyAlgorithm): Pkcs11Signer {
    const existing = token.findKeyPair(keyLabel);
    const pair = existing ?? token.generateKeyPair(keyLabel, alg);
    const key = token.publicKeyOf(pair.publicKey, keyLabel);
    if (key.keyAlgorithm !== alg) {
      throw new ConfigError('pkcs11_key', `the existing key "${keyLabel}" in PKCS#11 token "${token.label}" is ${key.keyAlgorithm}, not ${alg}: choose --key-alg ${key.keyAlgorithm} or another MAILCA_PKCS11_KEY_LABEL`);
    }
    return new Pkcs11Signer(token, pair.privateKey, key, { tokenLabel: token.label, keyLabel, keyId: pair.keyId });
  }

  /** Object handles may not outlive a login (SoftHSM drops them at logout): the key is then found again by its label and id. */
  #sign(mechanism: number, input: Buffer, outputLength: number): Buffer {
    try {
      return this.token.sign(this.#privateKey, mechanism, input, outputLength);
    } catch (e) {
      if (!isPkcs11Error(e, pkcs11js().CKR_OBJECT_HANDLE_INVALID) && !isPkcs11Error(e, pkcs11js().CKR_KEY_HANDLE_INVALID)) throw e;
      const { keyLabel, keyId } = this.reference;
      const pair = this.token.findKeyPair(keyLabel, keyId || undefined);
      if (!pair) throw new ConfigError('pkcs11_key', `the key "${keyLabel}" is gone from PKCS#11 token "${this.token.label}"`);
      this.#privateKey = pair.privateKey;
      return this.token.sign(this.#privateKey, mechanism, input, outputLength);
    }
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    switch (this.keyAlgorithm) {
      case 'P-256':
      case 'P-384': {
        // CKM_ECDSA signs a digest we compute and returns raw r‖s; X.509 wants ECDSA-Sig-Value (DER).
        const { hash, size } = EC_CURVES[this.keyAlgorithm];
        const raw = this.#sign(pkcs11js().CKM_ECDSA, createHash(hash).update(data).digest(), 2 * size);
        const int = (b: Buffer) => derUnsignedInteger(BigInt(`0x${b.toString('hex') || '0'}`));
        return derSequence(int(raw.subarray(0, size)), int(raw.subarray(size)));
      }
      case 'RSA-3072':
        return new Uint8Array(this.#sign(pkcs11js().CKM_SHA256_RSA_PKCS, Buffer.from(data), RSA_BITS / 8));
    }
  }
}

/** The tokens a process has open, by label: opened on first use, closed together. */
export class Pkcs11Tokens {
  readonly #open = new Map<string, Pkcs11Token>();
  constructor(readonly settings: Pkcs11Settings) {}

  get(tokenLabel: string): Pkcs11Token {
    let token = this.#open.get(tokenLabel);
    if (!token) {
      token = Pkcs11Token.open(this.settings, tokenLabel);
      this.#open.set(tokenLabel, token);
    }
    return token;
  }

  close(): void {
    for (const token of this.#open.values()) token.close();
    this.#open.clear();
  }
}
