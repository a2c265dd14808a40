/**
 * The watermark table: one row per pipeline and task holding the committed watermarks (the
 * versioned document of watermark-document.ts), the last committed rowtime, a commit sequence
 * and the fencing epoch.
 *
 * Fencing: `fence` (at open) bumps the epoch and returns the row; every commit updates the row
 * only `WHERE epoch = <its epoch>` as its last statement before COMMIT. An older instance's
 * commit therefore updates nothing and rolls back (FENCED). The bump waits for the row lock, so
 * it happens after an older instance's commit in flight has committed or rolled back, and the
 * state it returns is final.
 */
import type { PipelineIdentity } from '@tidemark/sdk';
import type pg from 'pg';
import { qualified } from './sql.js';
import { decodeStoredWatermark, type StoredWatermark } from './watermark-document.js';

/** The row's fencing epoch and what it stores (null before the first commit). */
export interface WatermarkRow {
  readonly epoch: number;
  readonly sequence: number;
  readonly stored: StoredWatermark | null;
}

export class WatermarkTable {
  readonly #name: string;
  readonly #label: string;

  constructor(schema: string, table: string) {
    this.#name = qualified(schema, table);
    this.#label = `${schema}.${table}`;
  }

  /** `schema.table`, for messages. */
  get label(): string {
    return this.#label;
  }

  /** Creates the table when missing (concurrent creators are fine). */
  async create(client: pg.Client): Promise<void> {
    await ignoreDuplicate(
      client.query(
        `CREATE TABLE IF NOT EXISTS ${this.#name} (
          pipeline_id text NOT NULL,
          task_id text NOT NULL DEFAULT '',
          epoch bigint NOT NULL DEFAULT 0,
          sequence bigint NOT NULL DEFAULT 0,
          watermark text,
          rowtime timestamptz,
          committed_at timestamptz,
          owner text,
          opened_at timestamptz,
          PRIMARY KEY (pipeline_id, task_id)
        )`,
      ),
    );
  }

  /** Bumps the epoch of `identity` (creating its row) and returns the row after the bump. */
  async fence(client: pg.Client, identity: PipelineIdentity, owner: string): Promise<WatermarkRow> {
    const result = await client.query(
      `INSERT INTO ${this.#name} AS current (pipeline_id, task_id, epoch, owner, opened_at)
       VALUES ($1, $2, 1, $3, now())
       ON CONFLICT (pipeline_id, task_id)
       DO UPDATE SET epoch = current.epoch + 1, owner = EXCLUDED.owner, opened_at = now()
       RETURNING epoch, sequence, watermark`,
      [identity.pipelineId, identity.taskId ?? '', owner],
    );
    return this.#row(result.rows[0], identity);
  }

  /**
   * Locks the row while it still carries `epoch` (waiting for any transaction holding it to
   * end) and returns it; null when a newer instance has bumped the epoch since.
   */
  async reclaim(client: pg.Client, identity: PipelineIdentity, epoch: number): Promise<WatermarkRow | null> {
    const result = await client.query(
      `UPDATE ${this.#name} SET owner = owner
       WHERE pipeline_id = $1 AND task_id = $2 AND epoch = $3
       RETURNING epoch, sequence, watermark`,
      [identity.pipelineId, identity.taskId ?? '', epoch],
    );
    return result.rowCount === 1 ? this.#row(result.rows[0], identity) : null;
  }

  /** Reads the row without locking or fencing; null when there is no table or no row. */
  async read(client: pg.Client, identity: PipelineIdentity): Promise<WatermarkRow | null> {
    try {
      const result = await client.query(
        `SELECT epoch, sequence, watermark FROM ${this.#name} WHERE pipeline_id = $1 AND task_id = $2`,
        [identity.pipelineId, identity.taskId ?? ''],
      );
      return result.rows.length === 0 ? null : this.#row(result.rows[0], identity);
    } catch (error) {
      if ((error as { code?: string }).code === '42P01') return null;
      throw error;
    }
  }

  /**
   * Inside the open transaction: stores `document` as commit `sequence` when the row still
   * carries `epoch`. False when it does not (this instance is fenced).
   */
  async store(
    client: pg.Client,
    identity: PipelineIdentity,
    epoch: number,
    sequence: number,
    document: string,
    rowtime: number | null,
  ): Promise<boolean> {
    const result = await client.query({
      name: 'tidemark_store_watermark',
      text: `UPDATE ${this.#name}
             SET sequence = $4, watermark = $5, rowtime = to_timestamp($6::float8 / 1000), committed_at = now()
             WHERE pipeline_id = $1 AND task_id = $2 AND epoch = $3`,
      values: [identity.pipelineId, identity.taskId ?? '', epoch, sequence, document, rowtime],
    });
    return result.rowCount === 1;
  }

  #row(row: Record<string, unknown> | undefined, identity: PipelineIdentity): WatermarkRow {
    const where = `${this.#label} row (${identity.pipelineId}, ${identity.taskId ?? ''})`;
    const text = row?.watermark;
    return {
      epoch: Number(row?.epoch ?? 0),
      sequence: Number(row?.sequence ?? 0),
      stored: typeof text === 'string' ? decodeStoredWatermark(text, where) : null,
    };
  }
}

/** Runs a CREATE … IF NOT EXISTS, ignoring the duplicate errors two concurrent creators can meet. */
export async function ignoreDuplicate(query: Promise<unknown>): Promise<void> {
  try {
    await query;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== '23505' && code !== '42P07' && code !== '42710') throw error;
  }
}
