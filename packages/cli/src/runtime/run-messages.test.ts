import { describe, expect, it } from 'vitest';
import { withPipelineName } from './run.js';

describe('withPipelineName', () => {
  it('names the pipeline once', () => {
    expect(withPipelineName('orders', 'kafka sink: commit failed')).toBe(
      'pipeline orders: kafka sink: commit failed',
    );
    expect(withPipelineName('orders', "pipeline 'orders' is running (pid 12)")).toBe(
      "pipeline 'orders' is running (pid 12)",
    );
    expect(withPipelineName('orders', 'postgres sink: pipeline orders was opened by a newer instance')).toBe(
      'postgres sink: pipeline orders was opened by a newer instance',
    );
    expect(withPipelineName('orders', 'pipeline orders-2 failed')).toBe(
      'pipeline orders: pipeline orders-2 failed',
    );
    expect(withPipelineName('a.b', 'pipeline aXb failed')).toBe('pipeline a.b: pipeline aXb failed');
  });
});
