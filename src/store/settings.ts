import type { Knex } from 'knex';

/** Instance-wide values every instance must share (e.g. the session cookie secret). */
export class SettingsStore {
  constructor(private readonly db: Knex) {}

  /** The stored value, or `initial` stored now if there is none (the first instance to ask wins). */
  async getOrCreate(key: string, initial: string): Promise<string> {
    await this.db('settings').insert({ key, value: initial }).onConflict('key').ignore();
    const row = await this.db('settings').where({ key }).first<{ value: string } | undefined>();
    if (!row) throw new Error(`setting ${key} vanished`);
    return row.value;
  }
}
