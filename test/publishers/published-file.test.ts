import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { AtomicFileWriter, PublishedFile } from '../../src/publishers/published-file.ts';

async function fileBacked(dir: string, name: string, content: Buffer): Promise<PublishedFile> {
  const w = await AtomicFileWriter.create(path.join(dir, name));
  await w.write(content);
  const size = w.size;
  return new PublishedFile(name, 'text/plain', '"x"', size, { handle: await w.commit() });
}

describe('a file-backed published file', () => {
  it('streams the whole version to many concurrent readers from shared chunks, even after a newer version replaced it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-published-'));
    // 9 MB: more chunks than are kept, so readers re-read some and share others.
    const content = Buffer.from(randomBytes(9 << 19).toString('hex'), 'latin1');
    const file = await fileBacked(dir, 'list.txt', content);
    const readers = Array.from({ length: 40 }, () => text(file.stream()));
    // A newer version takes its place on disk and the old one is retired while it is read.
    const newer = await fileBacked(dir, 'list.txt', Buffer.from('newer\n'));
    file.retire();
    for (const got of await Promise.all(readers)) expect(got === content.toString('latin1')).toBe(true);
    expect(readFileSync(path.join(dir, 'list.txt'), 'utf8')).toBe('newer\n');
    expect(await text(newer.stream())).toBe('newer\n');
    newer.retire();
  });

  it('streams an empty version as no bytes', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailca-published-'));
    const file = await fileBacked(dir, 'empty.txt', Buffer.alloc(0));
    expect(await text(file.stream())).toBe('');
    file.retire();
  });
});
