import { randomBytes } from 'node:crypto';

export const SERIAL_BYTES = 16;
const SERIAL_PATTERN = /^[0-9a-f]{32}$/;

/**
 * A 128-bit random serial as 32 lowercase hex chars. The first byte is 0x01..0x7f so the DER INTEGER is
 * positive and exactly 16 bytes (no sign padding, no leading zero). That leaves 127 bits of entropy.
 */
export function newSerial(): string {
  for (;;) {
    const bytes = randomBytes(SERIAL_BYTES);
    bytes[0] = (bytes[0] ?? 0) & 0x7f;
    if (bytes[0] !== 0) return bytes.toString('hex');
  }
}

/** Validates a serial in the form newSerial() produces and returns its DER INTEGER content bytes. */
export function serialToBytes(serial: string): Uint8Array {
  if (!SERIAL_PATTERN.test(serial)) throw new Error(`Invalid serial ${JSON.stringify(serial)}: expected 32 lowercase hex chars`);
  const bytes = new Uint8Array(Buffer.from(serial, 'hex'));
  const first = bytes[0] ?? 0;
  if (first === 0 || first >= 0x80) {
    throw new Error(`Invalid serial ${serial}: first byte must be 01..7f (positive, minimal 16-byte INTEGER)`);
  }
  return bytes;
}
