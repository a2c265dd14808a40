import type { Reporter, TestCase } from 'vitest/node';

/**
 * Names every test that failed and then passed on a retry (the integration project retries once:
 * real brokers on two shared cores have timing a unit test does not), with the first failure, so
 * a flake stays visible in the run's output instead of hiding behind a pass.
 */
export default class FlakyReporter implements Reporter {
  readonly #flaky: string[] = [];

  onTestCaseResult(testCase: TestCase): void {
    const diagnostic = testCase.diagnostic();
    if (!diagnostic?.flaky) return;
    const firstError = testCase.result().errors?.[0]?.message?.split('\n')[0] ?? 'no message kept';
    this.#flaky.push(
      `  ${testCase.module.moduleId.replace(`${process.cwd()}/`, '')} › ${testCase.fullName}` +
        ` (passed on attempt ${diagnostic.retryCount + 1}; first failure: ${firstError})`,
    );
  }

  onTestRunEnd(): void {
    if (this.#flaky.length === 0) return;
    console.log(`\nflaky: ${this.#flaky.length} test(s) failed, then passed on a retry:`);
    for (const line of this.#flaky) console.log(line);
  }
}
