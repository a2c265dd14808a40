// The peers bench's input: JSON lines of an exact size.
import fs from 'node:fs';

/** Writes `count` JSON lines of `size` bytes each (newline included) to `file`. */
export function writeInput(file, count, size) {
  const out = fs.openSync(file, 'w');
  const chunk = [];
  for (let index = 0; index < count; index += 1) {
    const prefix = `{"id":${index},"pad":"`;
    chunk.push(`${prefix}${'x'.repeat(Math.max(0, size - 1 - prefix.length - 2))}"}\n`);
    if (chunk.length === 10_000 || index === count - 1) fs.writeSync(out, chunk.splice(0).join(''));
  }
  fs.closeSync(out);
}
