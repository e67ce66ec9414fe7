import { BadRequest, Conflict } from '../errors.ts';
import type { Actor, EnrolmentContext } from './context.ts';
import { normalizeEmail } from './identity.ts';

/** One CSV record and the line it starts on (1 = the header). */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * RFC 4180 CSV: comma-separated, fields optionally in double quotes (a quoted field may hold commas,
 * line breaks and "" for a quote), CRLF or LF line ends. Blank lines are skipped.
 */
export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let quoted = false;
  let wasQuoted = false;
  let i = text.startsWith('\uFEFF') ? 1 : 0;
  const endRecord = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '' && !wasQuoted)) records.push({ line: recordLine, fields });
    fields = [];
    field = '';
    wasQuoted = false;
  };
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"') {
      if (field.trim() !== '') throw new BadRequest('invalid_csv', `line ${line}: a quote inside an unquoted field (quote the whole field and double the quote)`);
      field = '';
      quoted = true;
      wasQuoted = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
      wasQuoted = false;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      if (wasQuoted && c !== ' ' && c !== '\t') throw new BadRequest('invalid_csv', `line ${line}: text after a closing quote`);
      field += c;
    }
  }
  if (quoted) throw new BadRequest('invalid_csv', `line ${recordLine}: a quoted field is not closed`);
  if (field !== '' || fields.length > 0 || wasQuoted) endRecord();
  return records;
}

export interface ImportedUser {
  line: number;
  email: string;
  displayName: string | null;
  isAdmin: boolean;
  aliases: string[];
}

const TRUE = new Set(['true', 'yes', 'y', '1']);
const FALSE = new Set(['false', 'no', 'n', '0', '']);

/**
 * Reads a user list: header `email,name,admin` with an optional `aliases` column (addresses
 * separated by spaces or semicolons). Every problem names its line; an address twice in the file
 * (as a user or an alias) is one.
 */
export function parseUserCsv(text: string): ImportedUser[] {
  const records = parseCsv(text);
  const header = records.shift();
  const names = header?.fields.map((f) => f.trim().toLowerCase());
  const withAliases = names?.length === 4 && names[3] === 'aliases';
  if (!names || names.slice(0, 3).join(',') !== 'email,name,admin' || !(names.length === 3 || withAliases)) {
    throw new BadRequest('invalid_csv', 'line 1: the header must be email,name,admin or email,name,admin,aliases');
  }
  const seen = new Map<string, number>();
  const claim = (address: string, line: number) => {
    const first = seen.get(address);
    if (first !== undefined) throw new BadRequest('duplicate_address', `line ${line}: ${address} is already on line ${first}`);
    seen.set(address, line);
  };
  return records.map(({ line, fields }) => {
    const at = (e: unknown) => (e instanceof BadRequest ? new BadRequest(e.code, `line ${line}: ${e.message}`) : e);
    if (fields.length !== names.length) throw new BadRequest('invalid_csv', `line ${line}: ${fields.length} field(s), the header has ${names.length}`);
    const [emailField, nameField, adminField, aliasField] = fields as [string, string, string, string | undefined];
    let email: string;
    let aliases: string[];
    try {
      email = normalizeEmail(emailField);
      aliases = (aliasField ?? '').split(/[\s;]+/).filter(Boolean).map((a) => normalizeEmail(a));
    } catch (e) {
      throw at(e);
    }
    const displayName = nameField.trim() || null;
    if (displayName && (displayName.length > 200 || /\p{Cc}/u.test(displayName))) throw new BadRequest('invalid_name', `line ${line}: the name must be at most 200 printable characters`);
    const admin = adminField.trim().toLowerCase();
    if (!TRUE.has(admin) && !FALSE.has(admin)) throw new BadRequest('invalid_admin', `line ${line}: admin must be true or false (or yes/no, 1/0, empty), not "${adminField.slice(0, 20)}"`);
    claim(email, line);
    for (const a of aliases) claim(a, line);
    return { line, email, displayName, isAdmin: TRUE.has(admin), aliases };
  });
}

/**
 * Adds every user of the file (without a password: they get one with `mailca user password`, or sign
 * in through a directory) and their aliases, in one transaction: a bad row, or an address that is
 * already a user or an alias, and nothing is added. One audit event per user.
 */
export async function importUsers(ctx: EnrolmentContext, actor: Actor, csv: string): Promise<{ added: number }> {
  const rows = parseUserCsv(csv);
  const now = ctx.clock.now();
  await ctx.store.withLock('audit', async (tx) => {
    for (const r of rows) {
      for (const address of [r.email, ...r.aliases]) {
        if (await tx.users.findByEmail(address)) throw new Conflict('user_exists', `line ${r.line}: ${address} is already a user`);
        const owner = await tx.aliases.findOwner(address);
        if (owner !== undefined) throw new Conflict('alias_exists', `line ${r.line}: ${address} is already a sender alias of ${(await tx.users.findById(owner))?.email ?? `user ${owner}`}`);
      }
      const user = await tx.users.insert({ email: r.email, displayName: r.displayName, isAdmin: r.isAdmin, passwordHash: null, createdAt: now });
      for (const address of r.aliases) await tx.aliases.add({ address, userId: user.id, createdAt: now });
      await tx.audit.append({ at: now, actor: actor.id, action: 'user.add', target: r.email, sourceIp: actor.sourceIp, details: { admin: r.isAdmin, imported: true, aliases: r.aliases } });
    }
  });
  // New users may fall under an enforcement deadline already past: the lists change.
  if (rows.length > 0) await ctx.publish();
  return { added: rows.length };
}
