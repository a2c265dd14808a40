/**
 * Reserved: the amqp source (RabbitMQ (AMQP 0-9-1) classic, quorum and stream queues) is planned and not implemented yet. The package exists
 * so that the workspace layout, the CLI's type resolution and `tidemark plugins` already know
 * it; it exports no connector, only this marker. See docs/connectors.md, "Planned connectors".
 */
export const status = 'planned' as const;
