#!/usr/bin/env node
// Placeholder: `check` probes each service's TCP port. The full up/down/status lands next.
import net from 'node:net';
const services = [
  ['kafka', process.env.TIDEMARK_KAFKA_BROKERS?.split(',')[0] ?? '127.0.0.1:9092'],
  ['postgres', '127.0.0.1:5432'],
  ['rabbitmq', '127.0.0.1:5672'],
  ['mosquitto', '127.0.0.1:1883'],
];
const probe = (address) =>
  new Promise((resolve) => {
    const [host, port] = address.split(':');
    const socket = net.connect({ host, port: Number(port) });
    socket.setTimeout(1000);
    socket.on('connect', () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => (socket.destroy(), resolve(false)));
  });
let failed = false;
for (const [name, address] of services) {
  const up = await probe(address);
  console.log(`${name.padEnd(10)} ${address.padEnd(22)} ${up ? 'up' : 'DOWN'}`);
  if (!up) failed = true;
}
process.exit(failed ? 1 : 0);
