import { sleep } from '@tidemark/sdk';

const BROKER_RESOURCE = 4;
const SET = 0;
const DELETE = 1;
const DYNAMIC_DEFAULT_BROKER_CONFIG = 3;
/** How long a changed default may take to reach every broker. */
const APPLY_TIMEOUT_MS = 10_000;

/**
 * For integration tests: sets the cluster-wide default of the dynamic broker config `name` to
 * `value` (IncrementalAlterConfigs on the default broker resource, so no other config is
 * touched) on the plaintext cluster at `brokers`, and waits until every broker applies it.
 * Resolves with a function that restores what was there before (the previous cluster-wide
 * value, or none) and waits for that too. Rejects when the broker refuses the change (a static
 * config, an unknown name).
 */
export async function setClusterDefault(
  brokers: readonly string[],
  name: string,
  value: string,
): Promise<() => Promise<void>> {
  const { Admin, Connection, describeConfigsV4, incrementalAlterConfigsV1 } = await import(
    '@platformatic/kafka'
  );
  const [host = '127.0.0.1', port = '9092'] = (brokers[0] ?? '127.0.0.1:9092').split(':');
  const admin = new Admin({ clientId: 'tidemark-test-config', bootstrapBrokers: [...brokers] });
  const connection = new Connection('tidemark-test-config');

  /** The values of `name` on every broker (what each applies now). */
  const current = async (): Promise<(string | null)[]> => {
    const metadata = await admin.metadata({ topics: [], forceUpdate: true });
    const described = await admin.describeConfigs({
      resources: [...metadata.brokers.keys()].map((id) => ({
        resourceType: BROKER_RESOURCE,
        resourceName: String(id),
        configurationKeys: [name],
      })),
    });
    return described.map((resource) => resource.configs.find((entry) => entry.name === name)?.value ?? null);
  };
  const alter = async (wanted: string | null, expected: string): Promise<void> => {
    const config =
      wanted === null ? { name, configOperation: DELETE } : { name, configOperation: SET, value: wanted };
    const answer = await incrementalAlterConfigsV1.api.async(
      connection,
      [{ resourceType: BROKER_RESOURCE, resourceName: '', configs: [config as never] }],
      false,
    );
    const refused = answer.responses.find((response) => response.errorCode !== 0);
    if (refused)
      throw new Error(`the broker refused to change ${name}: ${refused.errorMessage ?? refused.errorCode}`);
    const deadline = Date.now() + APPLY_TIMEOUT_MS;
    while (!(await current()).every((applied) => applied === expected)) {
      if (Date.now() > deadline)
        throw new Error(`the brokers did not apply ${name}=${expected} within ${APPLY_TIMEOUT_MS} ms`);
      await sleep(50);
    }
  };

  try {
    await connection.connect(host, Number(port));
    const described = await describeConfigsV4.api.async(
      connection,
      [{ resourceType: BROKER_RESOURCE, resourceName: '', configurationKeys: [name] }],
      false,
      false,
    );
    const previous =
      described.results[0]?.configs.find(
        (entry) => entry.name === name && entry.configSource === DYNAMIC_DEFAULT_BROKER_CONFIG,
      )?.value ?? null;
    const before = (await current())[0] ?? null;
    const restore = () => alter(previous, before ?? previous ?? '');
    try {
      await alter(value, value);
    } catch (error) {
      await restore().catch(() => undefined);
      throw error;
    }
    return async () => {
      try {
        await restore();
      } finally {
        await connection.close().catch(() => undefined);
        await admin.close().catch(() => undefined);
      }
    };
  } catch (error) {
    await connection.close().catch(() => undefined);
    await admin.close().catch(() => undefined);
    throw error;
  }
}
