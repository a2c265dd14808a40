import pg from 'pg';
import type { ResolvedRdbmsConfig } from '../config.js';
import type { Dialect, DialectConnection, DialectRow, PageRequest } from '../dialect.js';
import { jsonObjectWriter, quoteIdentifier, quoteQualified } from '../json-text.js';
import type { RowPosition } from '../position.js';
import { checkColumns, horizonColumnMismatch, noTimePosition, runStatements } from '../relation.js';
import { mapPostgresError } from './postgres-errors.js';
import { preparePostgresStatements } from './postgres-prepare.js';
import { encoderFor, PG_TYPES, type PostgresEncoder, RAW_TEXT_TYPES } from './postgres-values.js';

/** Session settings that make the server's text output stable and lossless. */
const SESSION_OPTIONS =
  '-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=iso_8601 -c bytea_output=hex -c extra_float_digits=1';

const TIME_TYPES = new Set<number>([PG_TYPES.timestamptz, PG_TYPES.timestamp]);

/** Opens one client with the session settings above; errors mapped (AUTH_FAILED, CONNECTION_FAILED…). */
async function openClient(config: ResolvedRdbmsConfig): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: config.connectionString,
    application_name: config.applicationName,
    connectionTimeoutMillis: config.connectTimeoutMs,
    query_timeout: config.queryTimeoutMs,
    statement_timeout: config.queryTimeoutMs,
    options: SESSION_OPTIONS,
  });
  // A dropped connection (pg_terminate_backend, a network cut) is reported here between
  // queries; the next query then fails and is mapped to CONNECTION_FAILED.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw mapPostgresError(error, 'connect');
  }
  return client;
}

interface ColumnShape {
  readonly name: string;
  readonly encoder: PostgresEncoder;
  readonly select: string;
}

/** What a connection knows about the relation it reads, learnt at connect. */
interface RelationShape {
  readonly from: string;
  readonly queryColumn: string;
  readonly tieBreakColumn: string;
  readonly queryCast: string;
  readonly tieBreakCast: string;
  readonly queryIsTime: boolean;
  readonly columns: readonly ColumnShape[];
}

async function describeRelation(client: pg.Client, config: ResolvedRdbmsConfig): Promise<RelationShape> {
  const from = config.table !== undefined ? quoteQualified(config.table, '"') : `(${config.query})`;
  const probe = await client.query({ text: `SELECT * FROM ${from} AS r LIMIT 0`, types: RAW_TEXT_TYPES });
  const fields = probe.fields;
  checkColumns(
    'postgres',
    config,
    fields.map((field) => field.name),
  );
  const oids = [...new Set(fields.map((field) => field.dataTypeID))];
  const types = await client.query<{ oid: number; category: string; name: string }>({
    text: 'SELECT oid::int4 AS oid, typcategory AS category, format_type(oid, NULL) AS name FROM pg_type WHERE oid = ANY($1::oid[])',
    values: [oids],
  });
  const typeOf = new Map(types.rows.map((row) => [Number(row.oid), row]));
  const fieldOf = (name: string) => fields.find((field) => field.name === name)!;
  const queryType = fieldOf(config.queryCol).dataTypeID;
  if (config.horizon === 'in-flight' && queryType !== PG_TYPES.xid8) {
    throw horizonColumnMismatch(
      'postgres',
      `queryCol ${config.queryCol} is ${typeOf.get(queryType)?.name ?? queryType}, but horizon: in-flight needs an xid8 column set to pg_current_xact_id() on every insert and update`,
    );
  }
  const columns = fields.map((field) => {
    const isArray = typeOf.get(field.dataTypeID)?.category === 'A';
    const quoted = `r.${quoteIdentifier(field.name, '"')}`;
    return {
      name: field.name,
      encoder: encoderFor(field.dataTypeID, isArray),
      select: isArray ? `to_json(${quoted})::text` : quoted,
    };
  });
  const castOf = (name: string) => typeOf.get(fieldOf(name).dataTypeID)?.name ?? 'text';
  return {
    from,
    queryColumn: `r.${quoteIdentifier(config.queryCol, '"')}`,
    tieBreakColumn: `r.${quoteIdentifier(config.tieBreakCol, '"')}`,
    queryCast: castOf(config.queryCol),
    tieBreakCast: castOf(config.tieBreakCol),
    queryIsTime: TIME_TYPES.has(queryType),
    columns,
  };
}

/** A connection reading one table or query. One query at a time (the source awaits each). */
class PostgresConnection implements DialectConnection {
  readonly #client: pg.Client;
  readonly #shape: RelationShape;
  readonly #config: ResolvedRdbmsConfig;
  readonly #selectList: string;
  readonly #writeRow: (encodedValues: readonly string[]) => string;
  #closed = false;

  constructor(client: pg.Client, shape: RelationShape, config: ResolvedRdbmsConfig) {
    this.#client = client;
    this.#shape = shape;
    this.#config = config;
    this.#selectList = [
      ...shape.columns.map((column) => column.select),
      shape.queryColumn,
      shape.tieBreakColumn,
    ].join(', ');
    this.#writeRow = jsonObjectWriter(shape.columns.map((column) => column.name));
  }

  async #query(text: string, values: unknown[], action: string): Promise<string[][]> {
    try {
      const result = await this.#client.query<string[]>({
        text,
        values,
        rowMode: 'array',
        types: RAW_TEXT_TYPES,
      });
      return result.rows;
    } catch (error) {
      throw mapPostgresError(error, action);
    }
  }

  /** WHERE clause of a keyset read after `after` below `horizon`, with its parameters. */
  #predicate(after: RowPosition | null, horizon: string | null): { where: string; values: string[] } {
    const { queryColumn, tieBreakColumn, queryCast, tieBreakCast } = this.#shape;
    const conditions: string[] = [];
    const values: string[] = [];
    if (after !== null) {
      values.push(after.queryValue);
      if (after.tieBreak === null) conditions.push(`${queryColumn} >= $${values.length}::${queryCast}`);
      else {
        values.push(after.tieBreak);
        conditions.push(
          `(${queryColumn}, ${tieBreakColumn}) > ($${values.length - 1}::${queryCast}, $${values.length}::${tieBreakCast})`,
        );
      }
    }
    if (horizon !== null) {
      values.push(horizon);
      conditions.push(`${queryColumn} < $${values.length}::${queryCast}`);
    }
    return { where: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', values };
  }

  async horizon(): Promise<string | null> {
    if (this.#config.horizon === 'none') return null;
    const rows = await this.#query('SELECT pg_snapshot_xmin(pg_current_snapshot())::text', [], 'horizon');
    return rows[0]![0]!;
  }

  async readPage(request: PageRequest): Promise<DialectRow[]> {
    const { where, values } = this.#predicate(request.after, request.horizon);
    const { queryColumn, tieBreakColumn, columns } = this.#shape;
    const rows = await this.#query(
      `SELECT ${this.#selectList} FROM ${this.#shape.from} AS r ${where} ORDER BY ${queryColumn}, ${tieBreakColumn} LIMIT ${request.limit}`,
      values,
      'read',
    );
    const count = columns.length;
    const encoders = columns.map((column) => column.encoder);
    return rows.map((row) => {
      const encoded = new Array<string>(count);
      for (let index = 0; index < count; index += 1) {
        const value = row[index];
        encoded[index] = value === null || value === undefined ? 'null' : encoders[index]!(value);
      }
      return { queryValue: row[count]!, tieBreakValue: row[count + 1]!, json: this.#writeRow(encoded) };
    });
  }

  async count(after: RowPosition | null, horizon: string | null): Promise<number> {
    const { where, values } = this.#predicate(after, horizon);
    const rows = await this.#query(
      `SELECT count(*)::text FROM ${this.#shape.from} AS r ${where}`,
      values,
      'count rows',
    );
    return Number(rows[0]![0]);
  }

  async latestPosition(horizon: string | null): Promise<RowPosition | null> {
    if (horizon !== null) return { queryValue: horizon, tieBreak: null };
    const { queryColumn, tieBreakColumn } = this.#shape;
    const rows = await this.#query(
      `SELECT ${queryColumn}::text, ${tieBreakColumn}::text FROM ${this.#shape.from} AS r ORDER BY ${queryColumn} DESC, ${tieBreakColumn} DESC LIMIT 1`,
      [],
      'find the latest row',
    );
    const row = rows[0];
    return row ? { queryValue: row[0]!, tieBreak: row[1]! } : null;
  }

  positionAtTime(time: number): RowPosition {
    if (!this.#shape.queryIsTime) throw noTimePosition('postgres', this.#config.queryCol);
    return { queryValue: new Date(time).toISOString(), tieBreak: null };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#client.end().catch(() => undefined);
  }
}

async function connect(config: ResolvedRdbmsConfig): Promise<DialectConnection> {
  const client = await openClient(config);
  try {
    const shape = await describeRelation(client, config).catch((error: unknown) => {
      throw mapPostgresError(error, `describe ${config.table ?? 'the query'}`);
    });
    return new PostgresConnection(client, shape, config);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}

function execute(config: ResolvedRdbmsConfig, statements: readonly string[]): Promise<void> {
  return runStatements(
    () => openClient(config),
    (client, statement) =>
      client.query(statement).catch((error: unknown) => {
        throw mapPostgresError(error, 'prepare');
      }),
    (client) => client.end().catch(() => undefined),
    statements,
  );
}

/** PostgreSQL through `pg`; the in-flight horizon is the snapshot xmin over an xid8 queryCol. */
export const postgresDialect: Dialect = {
  name: 'postgres',
  connect,
  prepareStatements: preparePostgresStatements,
  execute,
  mapError: mapPostgresError,
};
