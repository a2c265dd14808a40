import { describe, expect, it } from 'vitest';
import { LivenessView } from './liveness.js';

/** A view (timeout 2 s) that read `records` ('member@ms …'; instance `host:<member>`), caught up at `caughtUpAt`. */
function viewOf(records: string, caughtUpAt?: number): LivenessView {
  const view = new LivenessView(2_000);
  for (const entry of records.split(' ')) {
    const [member = '', at = ''] = entry.split('@');
    view.record(member, `host:${member}`, Number(at));
  }
  if (caughtUpAt !== undefined) view.caughtUp(caughtUpAt);
  return view;
}

describe('LivenessView', () => {
  it('names a member silent longer than the timeout as of the last catch-up, never itself', () => {
    const view = viewOf('a@1000 b@1000 self@1000 b@3200 self@3200', 3_200);
    expect(view.silent(['a', 'b', 'self'], 'self', 3_300)).toEqual([
      { member: 'a', instance: 'host:a', silenceMs: 2_200 },
    ]);
    view.forget('a');
    expect(view.silent(['a', 'b', 'self'], 'self', 3_300)).toEqual([]);
  });

  it('does not name a member silent for exactly the timeout, nor one it never read', () => {
    const view = viewOf('a@1000 self@3000', 3_000);
    expect(view.silent(['a', 'never', 'self'], 'self', 3_000)).toEqual([]);
  });

  it('names nobody while its own reader is stale', () => {
    const view = viewOf('a@1000 self@4000', 4_000);
    expect(view.silent(['a', 'self'], 'self', 4_500)).toHaveLength(1);
    // The reader has not reached the end of the topic for longer than the timeout.
    expect(view.silent(['a', 'self'], 'self', 6_500)).toEqual([]);
    // Caught up again but no record at all (not even its own) within the timeout.
    view.caughtUp(6_500);
    expect(view.silent(['a', 'self'], 'self', 6_500)).toEqual([]);
    // Never caught up: nobody.
    expect(viewOf('a@0').silent(['a', 'self'], 'self', 5_000)).toEqual([]);
  });

  it('counts records read late after a stall as alive, and forgets members that left the group', () => {
    // Stalled 2.5 s after 1 s, then reads the backlog: a published meanwhile.
    const view = viewOf('a@1000 self@1000 a@3500 self@3500', 3_500);
    expect(view.silent(['a', 'self'], 'self', 3_600)).toEqual([]);
    expect(view.silent(['self'], 'self', 3_600)).toEqual([]);
    view.caughtUp(6_000);
    view.record('self', 'host:self', 6_000);
    expect(view.silent(['a', 'self'], 'self', 6_000)).toEqual([]);
  });
});
