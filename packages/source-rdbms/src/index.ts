/**
 * Reserved: the rdbms source (relational tables polled by a query column (PostgreSQL)) is planned and not implemented yet. The package exists
 * so that the workspace layout, the CLI's type resolution and `tidemark plugins` already know
 * it; it exports no connector, only this marker. See docs/connectors.md, "Planned connectors".
 */
export const status = 'planned' as const;
