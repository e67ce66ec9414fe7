import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';

/** Strong ETag: a hash of the content, so the same state always gives the same tag. */
export function contentEtag(body: string | Uint8Array): string {
  return `"${createHash('sha256').update(body).digest('base64url')}"`;
}

/** A large file is served in chunks of this size, read once and shared by every reader at the same place. */
const CHUNK_BYTES = 256 << 10;
/** Chunks of one version kept for readers that follow (the most recently used). */
const CACHED_CHUNKS = 16;

/**
 * One published file as readers get it: its ETag, size and bytes. The bytes are held in memory for
 * small files; a large list is read from the file it was written to (the open handle keeps that
 * version readable even after a newer one replaced it on disk). Readers of a large file share the
 * chunks read for it: 2,000 long polls woken by one publish read the new list once.
 */
export class PublishedFile {
  #refs = 1;
  readonly #chunks = new Map<number, Promise<Buffer>>();

  constructor(
    readonly name: string,
    readonly contentType: string,
    readonly etag: string,
    readonly size: number,
    private readonly source: { bytes: Buffer } | { handle: FileHandle },
  ) {}

  /** The content as a stream; the version stays readable until the stream ends. */
  stream(): Readable {
    if ('bytes' in this.source) {
      return Readable.from([this.source.bytes]);
    }
    this.#refs++;
    const count = Math.ceil(this.size / CHUNK_BYTES);
    let next = 0;
    const s = new Readable({
      read: () => {
        if (next >= count) {
          s.push(null);
          return;
        }
        this.#chunk(next++).then(
          (chunk) => s.push(chunk),
          (e: unknown) => s.destroy(e instanceof Error ? e : new Error(String(e))),
        );
      },
    });
    s.once('close', () => this.release());
    return s;
  }

  /** Chunk `i` of a file-backed version, read once while it stays among the recently used. */
  #chunk(i: number): Promise<Buffer> {
    let chunk = this.#chunks.get(i);
    if (chunk) {
      // Most recently used last.
      this.#chunks.delete(i);
      this.#chunks.set(i, chunk);
      return chunk;
    }
    const offset = i * CHUNK_BYTES;
    const bytes = Buffer.allocUnsafeSlow(Math.min(CHUNK_BYTES, this.size - offset));
    const read = this.read(offset, bytes.length, bytes).then(() => bytes);
    chunk = read;
    read.catch(() => {
      if (this.#chunks.get(i) === read) this.#chunks.delete(i);
    });
    this.#chunks.set(i, chunk);
    if (this.#chunks.size > CACHED_CHUNKS) this.#chunks.delete(this.#chunks.keys().next().value!);
    return chunk;
  }

  /** Reads [offset, offset+length) of this version (incremental publishing copies unchanged parts). */
  async read(offset: number, length: number, into: Buffer): Promise<void> {
    if ('bytes' in this.source) {
      this.source.bytes.copy(into, 0, offset, offset + length);
      return;
    }
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.source.handle.read(into, done, length - done, offset + done);
      if (bytesRead === 0) throw new Error(`${this.name}: short read of the previous version`);
      done += bytesRead;
    }
  }

  async text(): Promise<string> {
    if ('bytes' in this.source) return this.source.bytes.toString('utf8');
    const buf = Buffer.alloc(this.size);
    await this.read(0, this.size, buf);
    return buf.toString('utf8');
  }

  /** Called when a newer version replaces this one. */
  retire(): void {
    this.release();
  }

  private release(): void {
    if (--this.#refs === 0 && 'handle' in this.source) {
      this.#chunks.clear();
      this.source.handle.close().catch(() => undefined);
    }
  }
}

/** A file being written: temp file in the target directory, then fsync → rename → fsync the directory. */
export class AtomicFileWriter {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #position = 0;

  private constructor(
    readonly file: string,
    private readonly tmp: string,
    private readonly handle: FileHandle,
  ) {}

  static async create(file: string): Promise<AtomicFileWriter> {
    const dir = path.dirname(file);
    await mkdir(dir, { recursive: true });
    const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
    const handle = await open(tmp, 'wx+', 0o644);
    // Readable by an MTA on the same host whatever the umask.
    await handle.chmod(0o644);
    return new AtomicFileWriter(file, tmp, handle);
  }

  get size(): number {
    return this.#position + this.#pendingBytes;
  }

  async write(bytes: Buffer): Promise<void> {
    if (bytes.length === 0) return;
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    if (this.#pendingBytes >= 4 << 20) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.#pendingBytes === 0) return;
    const chunk = Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, off, chunk.length - off, this.#position + off);
      off += bytesWritten;
    }
    this.#position += chunk.length;
  }

  /** Makes the new content the file's; returns a handle open on it for readers. */
  async commit(): Promise<FileHandle> {
    try {
      await this.flush();
      await this.handle.sync();
      await rename(this.tmp, this.file);
    } catch (e) {
      await this.abort();
      throw e;
    }
    const dir = await open(path.dirname(this.file), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    return this.handle;
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await rm(this.tmp, { force: true });
  }
}

/** Writes a file so a reader sees either the old or the new content, never a mix. */
export async function writeFileAtomic(file: string, content: string | Uint8Array): Promise<void> {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  const w = await AtomicFileWriter.create(file);
  await w.write(bytes);
  await (await w.commit()).close();
}

/** Writes a small file atomically and returns it as a PublishedFile held in memory. */
export async function publishSmallFile(dir: string, name: string, contentType: string, content: string | Uint8Array): Promise<PublishedFile> {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  await writeFileAtomic(path.join(dir, name), bytes);
  return new PublishedFile(name, contentType, contentEtag(bytes), bytes.length, { bytes });
}
