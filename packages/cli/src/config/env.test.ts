// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${NAME}` is the configuration's interpolation syntax, written on purpose.
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { interpolateEnvironment } from './env.js';

function interpolate(text: string, environment: NodeJS.ProcessEnv) {
  const document = parseDocument(text);
  const missing = interpolateEnvironment(document, environment);
  return { value: document.toJS() as Record<string, unknown>, missing };
}

describe('interpolateEnvironment', () => {
  it('substitutes variables and defaults inside strings', () => {
    const { value, missing } = interpolate('a: "${HOST}:${PORT:-9092}"\nb: x-${UNSET:-fallback}-y\n', {
      HOST: 'kafka',
    });
    expect(value).toEqual({ a: 'kafka:9092', b: 'x-fallback-y' });
    expect(missing).toEqual([]);
  });

  it('types a plain scalar that is only a reference, but keeps quoted ones strings', () => {
    const { value } = interpolate("port: ${PORT}\nquoted: '${PORT}'\nflag: ${FLAG}\n", {
      PORT: '9092',
      FLAG: 'true',
    });
    expect(value).toEqual({ port: 9092, quoted: '9092', flag: true });
  });

  it('reports unset variables without default with their path', () => {
    const { missing } = interpolate('pipelines:\n  - sink:\n      password: ${SECRET}\n', {});
    expect(missing).toEqual([{ name: 'SECRET', path: ['pipelines', 0, 'sink', 'password'] }]);
  });

  it('treats an empty variable as unset for defaults, and $${ as a literal', () => {
    const { value } = interpolate('a: ${EMPTY:-d}\nb: $${NOT_A_VARIABLE}\n', { EMPTY: '' });
    expect(value).toEqual({ a: 'd', b: '${NOT_A_VARIABLE}' });
  });

  it('leaves keys alone', () => {
    const { value } = interpolate('${KEY}: 1\n', { KEY: 'k' });
    expect(value).toEqual({ '${KEY}': 1 });
  });
});
