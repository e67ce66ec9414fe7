import { describe, expect, it } from 'vitest';
import { newSerial } from '../../src/issuance/index.ts';
import { serialToBytes } from '../../src/issuance/serial.ts';

describe('newSerial', () => {
  it('draws 10k unique, positive 16-byte serials as 32 lowercase hex chars', () => {
    const serials = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const serial = newSerial();
      expect(serial).toMatch(/^[0-9a-f]{32}$/);
      const firstByte = Number.parseInt(serial.slice(0, 2), 16);
      expect(firstByte).toBeGreaterThan(0); // no leading zero octet: the DER INTEGER stays 16 bytes
      expect(firstByte & 0x80).toBe(0); // high bit clear: positive
      serials.add(serial);
    }
    expect(serials.size).toBe(10_000);
  });

  it('rejects serials that would not encode as a positive, minimal 16-byte INTEGER', () => {
    expect(serialToBytes('7f' + '00'.repeat(15))).toHaveLength(16);
    for (const bad of ['80' + '00'.repeat(15), '00' + 'ff'.repeat(15), 'AB'.repeat(16), 'ab'.repeat(15), 'ab'.repeat(17), 'zz'.repeat(16)]) {
      expect(() => serialToBytes(bad), bad).toThrow(/Invalid serial/);
    }
  });
});
