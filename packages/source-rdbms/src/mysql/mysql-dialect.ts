import mysql from 'mysql2/promise';
import type { ResolvedRdbmsConfig } from '../config.js';
import type { Dialect, DialectConnection, DialectRow, PageRequest } from '../dialect.js';
import { jsonObjectWriter, quoteIdentifier, quoteQualified } from '../json-text.js';
import type { RowPosition } from '../position.js';
import { checkColumns, horizonColumnMismatch, noTimePosition, runStatements } from '../relation.js';
import { mapMysqlError } from './mysql-errors.js';
import { MysqlHorizon } from './mysql-horizon.js';
import { prepareMysqlStatements } from './mysql-prepare.js';
import { encodeMysqlValue, type MysqlValueKind, mysqlValueKind } from './mysql-values.js';

/** Protocol column types (mysql2 FieldPacket.columnType). */
const TIME_COLUMN_TYPES = new Set([7, 12, 17, 18]);
/** TIMESTAMP: stored in UTC, so every session stamps on one clock (DATETIME keeps each session's local time). */
const TIMESTAMP_COLUMN_TYPES = new Set([7, 17]);
const INTEGER_COLUMN_TYPES = new Set([1, 2, 3, 8, 9]);
const QUERY_ALIAS = 'tidemark__q';
const TIE_BREAK_ALIAS = 'tidemark__k';

async function openConnection(config: ResolvedRdbmsConfig): Promise<mysql.Connection> {
  let connection: mysql.Connection;
  try {
    connection = await mysql.createConnection({
      uri: config.connectionString.replace(/^mariadb:/i, 'mysql:'),
      connectTimeout: config.connectTimeoutMs,
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      timezone: 'Z',
      charset: 'utf8mb4',
    });
  } catch (error) {
    throw mapMysqlError(error, 'connect');
  }
  // A dropped connection is reported here between queries; the next query then fails.
  connection.on('error', () => undefined);
  try {
    await connection.query("SET time_zone = '+00:00'");
  } catch (error) {
    connection.destroy();
    throw mapMysqlError(error, 'connect');
  }
  return connection;
}

interface RelationShape {
  readonly from: string;
  readonly queryColumn: string;
  readonly tieBreakColumn: string;
  readonly tieBreakIsInteger: boolean;
  readonly queryIsTime: boolean;
  readonly names: readonly string[];
  readonly selectList: string;
  /** Per column: its character set (63 = binary) and MariaDB extended format. */
  readonly columnInfo: ReadonlyMap<string, { characterSet: number | undefined; format: string | undefined }>;
  /** Oldest running statement, from processlist: MariaDB has TIME_MS, MySQL only whole seconds. */
  readonly statementStart: string;
}

async function describeRelation(
  connection: mysql.Connection,
  config: ResolvedRdbmsConfig,
): Promise<RelationShape> {
  const from = config.table !== undefined ? quoteQualified(config.table, '`') : `(${config.query})`;
  const [, fields] = await connection.query({ sql: `SELECT * FROM ${from} AS r LIMIT 0` });
  const names = fields.map((field) => field.name);
  checkColumns('mysql', config, names);
  const fieldOf = (name: string) => fields.find((field) => field.name === name)!;
  const queryField = fieldOf(config.queryCol);
  const queryIsTime = TIME_COLUMN_TYPES.has(queryField.columnType ?? -1);
  const queryIsTimestamp = TIMESTAMP_COLUMN_TYPES.has(queryField.columnType ?? -1);
  if (config.horizon === 'in-flight' && (!queryIsTimestamp || queryField.decimals !== 6)) {
    throw horizonColumnMismatch(
      'mysql',
      `queryCol ${config.queryCol} must be a TIMESTAMP(6) set by the server on every insert and update for horizon: in-flight`,
    );
  }
  const [versionRows] = await connection.query<mysql.RowDataPacket[]>('SELECT VERSION() AS version');
  const mariadb = /mariadb/i.test(String(versionRows[0]?.version ?? ''));
  const quoted = (name: string) => `r.${quoteIdentifier(name, '`')}`;
  return {
    from,
    queryColumn: quoted(config.queryCol),
    tieBreakColumn: quoted(config.tieBreakCol),
    tieBreakIsInteger: INTEGER_COLUMN_TYPES.has(fieldOf(config.tieBreakCol).columnType ?? -1),
    queryIsTime,
    names,
    selectList: [
      ...names.map(quoted),
      `${quoted(config.queryCol)} AS ${QUERY_ALIAS}`,
      `${quoted(config.tieBreakCol)} AS ${TIE_BREAK_ALIAS}`,
    ].join(', '),
    columnInfo: new Map(
      fields.map((field) => [
        field.name,
        {
          characterSet: field.characterSet,
          format: (field as { extendedFormat?: string }).extendedFormat,
        },
      ]),
    ),
    statementStart: mariadb
      ? 'UTC_TIMESTAMP(6) - INTERVAL ROUND(time_ms * 1000) MICROSECOND'
      : 'UTC_TIMESTAMP(6) - INTERVAL (time + 1) SECOND',
  };
}

/** `2026-01-31 12:00:00.123456`: the text form of a UTC TIMESTAMP(6) in this session. */
export function mysqlTimestampText(time: number): string {
  return `${new Date(time).toISOString().replace('T', ' ').replace('Z', '')}000`;
}

class MysqlConnection implements DialectConnection {
  readonly #connection: mysql.Connection;
  readonly #shape: RelationShape;
  readonly #config: ResolvedRdbmsConfig;
  readonly #kinds = new Map<string, MysqlValueKind>();
  readonly #horizon: MysqlHorizon;
  readonly #writeRow: (encodedValues: readonly string[]) => string;
  #closed = false;

  constructor(connection: mysql.Connection, shape: RelationShape, config: ResolvedRdbmsConfig) {
    this.#connection = connection;
    this.#shape = shape;
    this.#config = config;
    this.#horizon = new MysqlHorizon(shape.statementStart, config.horizonLagMs);
    this.#writeRow = jsonObjectWriter(shape.names);
  }

  #kindOf(name: string, type: string): MysqlValueKind {
    let kind = this.#kinds.get(name);
    if (kind === undefined) {
      const info = this.#shape.columnInfo.get(name);
      kind = mysqlValueKind(type, info?.characterSet, info?.format);
      this.#kinds.set(name, kind);
    }
    return kind;
  }

  readonly #typeCast = (field: {
    name: string;
    type: string;
    string: () => string | null;
    buffer: () => Buffer | null;
  }): string | null => {
    if (field.name === QUERY_ALIAS || field.name === TIE_BREAK_ALIAS) return field.string();
    const kind = this.#kindOf(field.name, field.type);
    if (kind === 'bytes') {
      const bytes = field.buffer();
      return bytes === null ? 'null' : encodeMysqlValue(kind, '', bytes);
    }
    const text = field.string();
    return text === null ? 'null' : encodeMysqlValue(kind, text);
  };

  async #query<Row>(sql: string, values: unknown[], action: string, encoded = false): Promise<Row[]> {
    try {
      const [rows] = await this.#connection.query({
        sql,
        values,
        rowsAsArray: true,
        timeout: this.#config.queryTimeoutMs,
        ...(encoded ? { typeCast: this.#typeCast as never } : {}),
      });
      return rows as Row[];
    } catch (error) {
      throw mapMysqlError(error, action);
    }
  }

  #predicate(after: RowPosition | null, horizon: string | null): { where: string; values: string[] } {
    const { queryColumn, tieBreakColumn, tieBreakIsInteger } = this.#shape;
    const conditions: string[] = [];
    const values: string[] = [];
    if (after !== null) {
      if (after.tieBreak === null) {
        conditions.push(`${queryColumn} >= ?`);
        values.push(after.queryValue);
      } else {
        // An integer key is inlined (validated digits): a string parameter would compare as a double.
        const inline = tieBreakIsInteger && /^-?\d{1,20}$/.test(after.tieBreak);
        conditions.push(
          `(${queryColumn} > ? OR (${queryColumn} = ? AND ${tieBreakColumn} > ${inline ? after.tieBreak : '?'}))`,
        );
        values.push(after.queryValue, after.queryValue);
        if (!inline) values.push(after.tieBreak);
      }
    }
    if (horizon !== null) {
      conditions.push(`${queryColumn} < ?`);
      values.push(horizon);
    }
    return { where: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', values };
  }

  async horizon(): Promise<string | null> {
    if (this.#config.horizon === 'none') return null;
    return this.#horizon.compute((sql, values) => this.#query<unknown[]>(sql, values, 'horizon'));
  }

  async readPage(request: PageRequest): Promise<DialectRow[]> {
    const { where, values } = this.#predicate(request.after, request.horizon);
    const { queryColumn, tieBreakColumn, names } = this.#shape;
    const rows = await this.#query<string[]>(
      `SELECT ${this.#shape.selectList} FROM ${this.#shape.from} AS r ${where} ORDER BY ${queryColumn}, ${tieBreakColumn} LIMIT ${request.limit}`,
      values,
      'read',
      true,
    );
    const count = names.length;
    return rows.map((row) => ({
      queryValue: row[count]!,
      tieBreakValue: row[count + 1]!,
      json: this.#writeRow(row),
    }));
  }

  async count(after: RowPosition | null, horizon: string | null): Promise<number> {
    const { where, values } = this.#predicate(after, horizon);
    const rows = await this.#query<unknown[]>(
      `SELECT COUNT(*) FROM ${this.#shape.from} AS r ${where}`,
      values,
      'count rows',
    );
    return Number(rows[0]![0]);
  }

  async latestPosition(horizon: string | null): Promise<RowPosition | null> {
    if (horizon !== null) return { queryValue: horizon, tieBreak: null };
    const { queryColumn, tieBreakColumn } = this.#shape;
    const rows = await this.#query<unknown[]>(
      `SELECT ${queryColumn}, ${tieBreakColumn} FROM ${this.#shape.from} AS r ORDER BY ${queryColumn} DESC, ${tieBreakColumn} DESC LIMIT 1`,
      [],
      'find the latest row',
    );
    const row = rows[0];
    return row ? { queryValue: String(row[0]), tieBreak: String(row[1]) } : null;
  }

  positionAtTime(time: number): RowPosition {
    if (!this.#shape.queryIsTime) throw noTimePosition('mysql', this.#config.queryCol);
    return { queryValue: mysqlTimestampText(time), tieBreak: null };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#connection.end().catch(() => this.#connection.destroy());
  }
}

async function connect(config: ResolvedRdbmsConfig): Promise<DialectConnection> {
  const connection = await openConnection(config);
  try {
    const shape = await describeRelation(connection, config).catch((error: unknown) => {
      throw mapMysqlError(error, `describe ${config.table ?? 'the query'}`);
    });
    const opened = new MysqlConnection(connection, shape, config);
    if (config.horizon === 'in-flight') await opened.horizon();
    return opened;
  } catch (error) {
    connection.destroy();
    throw error;
  }
}

function execute(config: ResolvedRdbmsConfig, statements: readonly string[]): Promise<void> {
  return runStatements(
    () => openConnection(config),
    (connection, statement) =>
      connection.query(statement).catch((error: unknown) => {
        throw mapMysqlError(error, 'prepare');
      }),
    (connection) => connection.end().catch(() => connection.destroy()),
    statements,
  );
}

/**
 * MySQL and MariaDB through `mysql2`; the in-flight horizon comes from innodb_trx and
 * processlist over a server-stamped TIMESTAMP(6) queryCol (docs/connectors/rdbms.md).
 */
export const mysqlDialect: Dialect = {
  name: 'mysql',
  connect,
  prepareStatements: prepareMysqlStatements,
  execute,
  mapError: mapMysqlError,
};
