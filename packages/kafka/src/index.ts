/**
 * @tidemark/kafka — Kafka in one place for the Kafka source and sink: the connection options
 * (brokers, TLS, SASL, client id, client library), the kafkajs client factory, the
 * @platformatic/kafka transactional producer and admin, admin checks for
 * `tidemark validate --connect`, and the run lease. Internal: connectors depend on it; the
 * CLI never does.
 */
export { checkTopic, requireTopics, withAdmin } from './admin.js';
export { createKafka, type KafkaClientSettings, unreachable } from './client.js';
export {
  defaultBrokers,
  KAFKA_CLIENTS,
  type KafkaClientName,
  type KafkaConnection,
  kafkaClientField,
  kafkaConnectionFields,
  tlsOptions,
} from './connection.js';
export { errorLinks } from './error-links.js';
export { assertNotRunning, LEASE_TOPIC, leaseGroup, PipelineLease } from './lease.js';
export {
  type Eviction,
  GroupLiveness,
  type GroupLivenessOptions,
  LivenessView,
  livenessTopic,
} from './liveness.js';
export {
  DEFAULT_TASK_GROUP_TIMING,
  describeTaskGroup,
  KafkaTaskMembership,
  kafkaTaskMembershipHook,
  livenessIntervalMs,
  type TaskGroupTiming,
  taskGroup,
  taskTopic,
} from './membership.js';
export {
  type CommittedOffset,
  type OffsetEntry,
  type OutgoingMessage,
  offsetsByTopic,
  type TopicMessages,
} from './messages.js';
export {
  assertPlatformaticRuns,
  load as loadPlatformatic,
  PLATFORMATIC_NODE_RANGE,
  PlatformaticAdmin,
  PlatformaticProducer,
  type PlatformaticSettings,
  type PlatformaticTransaction,
  platformaticOptions,
  platformaticSupported,
  retryDelayMs,
} from './platformatic.js';
export { securityError } from './security-errors.js';
export { setClusterDefault } from './test-broker-config.js';
export {
  type LocalSecureListener,
  localSecureListener,
  operatorVisibleText,
  SECURITY_FAILURES,
  type SecureOverrides,
  secureConnection,
} from './test-listener.js';
export { KafkaTestProxy, produceErrorName, type ReleasedProduce } from './test-proxy.js';
