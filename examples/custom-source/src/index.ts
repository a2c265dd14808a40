/**
 * @tidemark/example-custom-source — a complete third-party Tidemark plugin: the `http-log`
 * source. The default export is the connector the runtime loads.
 */
import { httpLogSource } from './http-log-source.js';

export {
  type HttpLogConfig,
  HttpLogSource,
  httpLogConfigSchema,
  httpLogSource,
  type LogPosition,
} from './http-log-source.js';
export default httpLogSource;
