import { type ConfigIssue, TidemarkError, toTidemarkError } from '@tidemark/core';

/** `file:line:column path: message`, the form editors and CI annotate. */
export function formatIssue(issue: ConfigIssue): string {
  const where = [issue.file ?? '', issue.line ?? '', issue.column ?? '']
    .filter((part) => part !== '')
    .join(':');
  return `${where}${where ? ' ' : ''}${issue.path}: ${issue.message}`;
}

/** True when LOG_LEVEL asks for debug output. */
export function debugRequested(environment: NodeJS.ProcessEnv = process.env): boolean {
  return ['debug', 'trace'].includes((environment.LOG_LEVEL ?? '').toLowerCase());
}

/**
 * Describes a failure for a person: the message, each configuration issue on its own line,
 * and the fix. The stack (and the chain of causes) only when `verbose`.
 */
export function describeFailure(thrown: unknown, verbose: boolean): string {
  const error = toTidemarkError(thrown);
  const lines = [`error: ${error.message}`];
  const issues = (error as { issues?: readonly ConfigIssue[] }).issues;
  if (Array.isArray(issues)) for (const issue of issues) lines.push(`  ${formatIssue(issue)}`);
  if (error.fix) lines.push(`  fix: ${error.fix}`);
  if (verbose) {
    lines.push(`  code: ${error.code}`);
    let current: unknown = error;
    while (current instanceof Error) {
      if (current.stack) lines.push(current.stack);
      current = current.cause;
    }
  } else if (!TidemarkError.isInstance(thrown)) {
    lines.push('  (run with --verbose or LOG_LEVEL=debug for the stack trace)');
  }
  return lines.join('\n');
}
