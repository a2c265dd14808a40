/**
 * @tidemark/sdk — everything a plugin needs: the contracts and errors of @tidemark/core, and
 * the typed factories `defineSource` / `defineSink`. A plugin depends on this package alone.
 */
export * from '@tidemark/core';
export { defineSink, defineSource, type SinkDefinition, type SourceDefinition } from './define.js';
export { adaptConnector } from './adapt.js';
