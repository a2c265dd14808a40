// Chaos scenario scale-out: a pipeline of 4 tasks (an 8-partition input topic) shared by three
// `tidemark run` instances of the same YAML through the task group. An instance that owns tasks
// is SIGKILLed and restarted again and again; halfway a fourth instance joins; at the end one
// owner is stopped cleanly (SIGTERM, exit 0) and its tasks move. takeover_ms: from each SIGKILL
// to the last of the dead instance's tasks starting elsewhere; handover_ms: the same for the
// clean stop (no timeout to wait for: the stopping instance leaves the group). The defaults
// apply: sessionTimeout 6s, livenessTimeout 2s.
import { sleep } from '../harness.mjs';
import { kafkaPipelineSetup } from '../scenarios.mjs';
import { Instance, median, runAndVerify, takeover, taskNames, writeTaskPipeline } from './scale-common.mjs';

const TASKS = 4;

async function allOwned(instances, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const owned = new Set(
      instances.filter((instance) => instance.alive).flatMap((instance) => instance.tasks),
    );
    if (owned.size === TASKS) return;
    await sleep(100);
  }
  throw new Error(`not every task was owned within ${timeoutMs} ms`);
}

export async function scaleOut({ kills, seed, log }) {
  const { rng, reader, feeder, spec } = await kafkaPipelineSetup('chaos-scale', seed, 8);
  const file = writeTaskPipeline({
    pipelineId: spec.pipelineId,
    inputTopic: spec.sources[0].options.topics[0],
    sinkTopic: spec.sink.options.topic,
    tasks: TASKS,
  });
  let serial = 0;
  const spawn = () => new Instance(file, `instance-${++serial}`, log);
  const instances = [spawn(), spawn(), spawn()];
  const takeovers = [];
  let handover;
  let added = false;
  const result = await runAndVerify({ feeder, reader, instances, log }, async () => {
    await Promise.all(instances.map((instance) => instance.waitJoined()));
    await allOwned(instances);
    for (let kill = 1; kill <= kills; kill += 1) {
      await sleep(rng.between(1_000, 2_500));
      const owners = instances.filter((instance) => instance.tasks.length > 0);
      const victim = owners[rng.between(0, owners.length - 1)];
      if (!victim) throw new Error(`no instance owns a task before kill ${kill}`);
      const lost = taskNames(victim.tasks);
      const killedAt = Date.now();
      await victim.kill('SIGKILL');
      instances.splice(instances.indexOf(victim), 1);
      instances.push(spawn());
      if (!added && kill >= Math.ceil(kills / 2)) {
        added = true;
        instances.push(spawn());
        log(`kill ${kill}: a fourth instance joins`);
      }
      const moved = await takeover(lost, instances, killedAt);
      if (moved === undefined)
        throw new Error(`tasks ${lost.join(',')} were not taken over after kill ${kill}`);
      takeovers.push(moved);
      log(`kill ${kill}/${kills}: ${lost.join(',')} taken over in ${moved} ms`);
      await Promise.all(instances.map((instance) => instance.waitJoined()));
      await allOwned(instances);
    }
    const leaving = instances.find((instance) => instance.tasks.length > 0);
    const lost = taskNames(leaving.tasks);
    const stoppedAt = Date.now();
    const code = await leaving.stop();
    if (code !== 0)
      throw new Error(`the cleanly stopped instance exited with ${code}: ${leaving.stderrTail.join('\n')}`);
    instances.splice(instances.indexOf(leaving), 1);
    handover = await takeover(lost, instances, stoppedAt);
    log(`clean stop: ${lost.join(',')} handed over in ${handover} ms`);
    await allOwned(instances);
  });
  return {
    kills,
    ...result,
    notes: `takeover_ms=${median(takeovers)} handover_ms=${handover} takeovers=[${takeovers.join(',')}] tasks=${TASKS} instances=3+1`,
  };
}
