#!/usr/bin/env node
// Draws throughput against commit interval, one line per client and provenance mode, one
// panel per record size, from the results file of `npm run bench -- --json <file>`. The raw
// producers (no transactions, no commit interval) are dashed horizontal lines. Plain SVG text.
//
//   node scripts/bench/plot.mjs results.json docs/benchmarks-commit-interval.svg
import fs from 'node:fs';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: node scripts/bench/plot.mjs <results.json> <out.svg>');
  process.exit(2);
}
const results = JSON.parse(fs.readFileSync(input, 'utf8'));
const COLORS = {
  'platformatic-compact': '#1f77b4',
  'platformatic-json': '#6baed6',
  'platformatic-none': '#c6dbef',
  'kafkajs-compact': '#d62728',
  'kafkajs-json': '#fb6a4a',
  'kafkajs-none': '#fcbba1',
  'platformatic-producer': '#1f77b4',
  'kafkajs-producer': '#d62728',
};
const escapeXml = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;');
const sizes = [...new Set(results.map((entry) => entry.size))].sort((a, b) => a - b);
const intervals = [...new Set(results.map((entry) => entry.intervalMs))].sort((a, b) => a - b);
const panelWidth = 420;
const panelHeight = 300;
const margin = { left: 70, right: 20, top: 40, bottom: 50 };
const width = sizes.length * (panelWidth + margin.left + margin.right);
const height = panelHeight + margin.top + margin.bottom + 80;
const parts = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12" role="img" aria-labelledby="title">`,
  '<title id="title">File to Kafka throughput against commit interval, per client library and provenance mode</title>',
  `<rect width="${width}" height="${height}" fill="white"/>`,
];
const logX = (value) => Math.log10(value);
const [minX, maxX] = [logX(intervals[0]), logX(intervals.at(-1))];
sizes.forEach((size, index) => {
  const left = index * (panelWidth + margin.left + margin.right) + margin.left;
  const top = margin.top;
  const entries = results.filter((entry) => entry.size === size);
  const maxY = Math.max(...entries.map((entry) => entry.recordsPerSecond)) * 1.1;
  const x = (interval) =>
    left + (maxX === minX ? panelWidth / 2 : ((logX(interval) - minX) / (maxX - minX)) * panelWidth);
  const y = (value) => top + panelHeight - (value / maxY) * panelHeight;
  parts.push(
    `<text x="${left + panelWidth / 2}" y="${top - 15}" text-anchor="middle" font-size="14">file → Kafka, ${size >= 1024 ? `${size / 1024} KiB` : `${size} B`} records</text>`,
    `<line x1="${left}" y1="${top + panelHeight}" x2="${left + panelWidth}" y2="${top + panelHeight}" stroke="black"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + panelHeight}" stroke="black"/>`,
    `<text x="${left + panelWidth / 2}" y="${top + panelHeight + 35}" text-anchor="middle">commit interval (ms, log scale)</text>`,
    `<text transform="translate(${left - 55},${top + panelHeight / 2}) rotate(-90)" text-anchor="middle">records/s</text>`,
  );
  for (let tick = 0; tick <= 5; tick += 1) {
    const value = (maxY / 5) * tick;
    parts.push(
      `<line x1="${left}" y1="${y(value)}" x2="${left + panelWidth}" y2="${y(value)}" stroke="#eee"/>`,
      `<text x="${left - 5}" y="${y(value) + 4}" text-anchor="end">${Math.round(value / 1000)}k</text>`,
    );
  }
  for (const interval of intervals) {
    parts.push(
      `<text x="${x(interval)}" y="${top + panelHeight + 16}" text-anchor="middle">${interval}</text>`,
    );
  }
  const series = new Map();
  for (const entry of entries) {
    if (entry.baseline) continue;
    const key = `${entry.client}-${entry.provenanceHeaders}`;
    if (!series.has(key)) series.set(key, []);
    series.get(key).push(entry);
  }
  for (const [key, points] of series) {
    points.sort((a, b) => a.intervalMs - b.intervalMs);
    const color = COLORS[key] ?? '#555';
    const path = points.map((point) => `${x(point.intervalMs)},${y(point.recordsPerSecond)}`).join(' ');
    parts.push(`<polyline points="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const point of points) {
      parts.push(
        `<circle cx="${x(point.intervalMs)}" cy="${y(point.recordsPerSecond)}" r="3" fill="${color}"/>`,
      );
    }
  }
  for (const baseline of ['platformatic-producer', 'kafkajs-producer']) {
    const values = entries
      .filter((entry) => entry.baseline === baseline)
      .map((entry) => entry.recordsPerSecond);
    if (values.length === 0) continue;
    const value = values.reduce((sum, item) => sum + item, 0) / values.length;
    parts.push(
      `<line x1="${left}" y1="${y(value)}" x2="${left + panelWidth}" y2="${y(value)}" stroke="${COLORS[baseline]}" stroke-dasharray="6,4"/>`,
    );
  }
});
const legend = [
  ['platformatic-compact', 'Tidemark, client platformatic, provenance compact (default)', ''],
  ['kafkajs-compact', 'Tidemark, client kafkajs, provenance compact (default)', ''],
  ['platformatic-json', 'Tidemark, client platformatic, provenance json', ''],
  ['kafkajs-json', 'Tidemark, client kafkajs, provenance json', ''],
  ['platformatic-none', 'Tidemark, client platformatic, provenance none', ''],
  ['kafkajs-none', 'Tidemark, client kafkajs, provenance none', ''],
  ['platformatic-producer', 'raw @platformatic/kafka idempotent producer', '6,4'],
  ['kafkajs-producer', 'raw kafkajs idempotent producer', '6,4'],
];
legend.forEach(([key, label, dash], index) => {
  const column = index % 2;
  const row = Math.floor(index / 2);
  const left = margin.left + column * 420;
  const top = margin.top + panelHeight + 55 + row * 16;
  parts.push(
    `<line x1="${left}" y1="${top - 4}" x2="${left + 24}" y2="${top - 4}" stroke="${COLORS[key]}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
    `<text x="${left + 30}" y="${top}">${escapeXml(label)}</text>`,
  );
});
parts.push('</svg>');
fs.writeFileSync(output, `${parts.join('\n')}\n`);
console.log(`wrote ${output}`);
