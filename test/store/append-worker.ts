// Appends audit events from a separate process, as a CLI command next to `mailca serve` would.
import { systemClock } from '../../src/clock.ts';
import { audited } from '../../src/enrolment/context.ts';
import { Store } from '../../src/store/index.ts';

const [file, databaseUrl, name, count] = process.argv.slice(2);
const store = await Store.open({ sqliteFile: file!, databaseUrl: databaseUrl || undefined });
try {
  for (let i = 0; i < Number(count); i++) {
    await audited({ store, clock: systemClock }, { id: `worker:${name}`, sourceIp: null }, { action: 'test.append', target: `${name}-${i}` }, async () => undefined);
  }
} finally {
  await store.close();
}
