// Chaos scenario standby-failover: one task, two `tidemark run` instances of the same YAML. The
// instance owning the task (the leader) is SIGKILLed again and again; the stand-by must take
// over (its sink open fences the dead owner) and the killed one comes back as the new
// stand-by. takeover_ms: from the SIGKILL to the task starting on the survivor (the liveness
// timeout, 2 s by default, dominates it: the survivor removes the silent owner from the group);
// resume_ms: to the next record the verifier sees.
import { sleep } from '../harness.mjs';
import { kafkaPipelineSetup } from '../scenarios.mjs';
import { Instance, median, runAndVerify, takeover, taskNames, writeTaskPipeline } from './scale-common.mjs';

async function resumed(reader, killedAt, timeoutMs = 60_000) {
  // Records the dead owner committed just before the kill may still be on their way: 1 s grace.
  await sleep(1_000);
  const before = reader.records.length;
  const deadline = Date.now() + timeoutMs;
  while (reader.records.length === before && Date.now() < deadline) await sleep(25);
  return reader.records.length > before ? Date.now() - killedAt : undefined;
}

export async function standbyFailover({ kills, seed, log }) {
  const { rng, reader, feeder, spec } = await kafkaPipelineSetup('chaos-standby', seed);
  const file = writeTaskPipeline({
    pipelineId: spec.pipelineId,
    inputTopic: spec.sources[0].options.topics[0],
    sinkTopic: spec.sink.options.topic,
    tasks: 1,
  });
  let serial = 0;
  const spawn = () => new Instance(file, `instance-${++serial}`, log);
  const instances = [spawn()];
  await instances[0].waitJoined();
  instances.push(spawn());
  await instances[1].waitJoined();
  const takeovers = [];
  const resumes = [];
  const result = await runAndVerify({ feeder, reader, instances, log }, async () => {
    for (let kill = 1; kill <= kills; kill += 1) {
      await sleep(rng.between(1_000, 3_000));
      const leader = instances.find((instance) => instance.tasks.includes(0));
      if (!leader) throw new Error(`no instance owns the task before kill ${kill}`);
      const others = instances.filter((instance) => instance !== leader);
      const killedAt = Date.now();
      await leader.kill('SIGKILL');
      const [moved, back] = await Promise.all([
        takeover(taskNames([0]), others, killedAt),
        resumed(reader, killedAt),
      ]);
      if (moved === undefined) throw new Error(`the stand-by did not take over after kill ${kill}`);
      takeovers.push(moved);
      if (back !== undefined) resumes.push(back);
      log(`kill ${kill}/${kills}: takeover ${moved} ms, records again after ${back ?? '?'} ms`);
      instances.splice(instances.indexOf(leader), 1);
      const replacement = spawn();
      instances.push(replacement);
      await replacement.waitJoined();
    }
  });
  return {
    kills,
    ...result,
    notes: `takeover_ms=${median(takeovers)} resume_ms=${median(resumes) ?? '?'} takeovers=[${takeovers.join(',')}] sessionTimeout=6s livenessTimeout=2s`,
  };
}
