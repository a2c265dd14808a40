// Durations are parsed by the core, so pipeline stages and the CLI read '2s' and '1h' alike.
export { durationSchema, parseDuration } from '@tidemark/core';
