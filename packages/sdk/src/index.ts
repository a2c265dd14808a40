/**
 * @tidemark/sdk — everything a plugin needs: the contracts and errors of @tidemark/core, the
 * typed factories `defineSource` / `defineSink`, config helpers, and `z` (the zod instance the
 * runtime validates with, so a plugin needs no zod dependency of its own). A plugin depends on
 * this package alone; its tests use the conformance kit at `@tidemark/sdk/testing`.
 */
export * from '@tidemark/core';
export { z } from 'zod';
export { adaptConnector, SPECIFICATION_ADAPTERS, type SpecificationAdapter } from './adapt.js';
export { defineSink, defineSource, type SinkDefinition, type SourceDefinition } from './define.js';
export { type ConnectorJsonSchema, configJsonSchema, parseConnectorConfig } from './spec/config.js';
export { describeConfigIssues, joinConfigPath, type PathIssue } from './spec/issues.js';
export { REDACTED, redactSecrets } from './spec/redact.js';
export { allowedKeysAt, type ConfigPath, rejectsUnknownKeys } from './spec/schema-walk.js';
