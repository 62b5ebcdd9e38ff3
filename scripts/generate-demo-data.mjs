// Regenerates templates/demo/data: a week of 15-minute readings from two temperature probes (with a
// sensor gap, a duplicated reading and one malformed row, as real exports have) and a JSON export of
// documents. Deterministic, so the demo's outputs are the same on every machine.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? 'templates/demo/data';
mkdirSync(dir, { recursive: true });

let seed = 42;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};

const start = Date.UTC(2026, 10, 16, 0, 0, 0); // Monday 2026-11-16 00:00 UTC
const pad = (n) => String(n).padStart(2, '0');
const stamp = (ms) => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:00`;
};

for (const [probe, base, swing] of [
  ['probe1', 29, 6],
  ['probe2', 31, 7.5],
]) {
  const lines = ['ts,probe,temp_c'];
  for (let i = 0; i < 7 * 96; i += 1) {
    const ms = start + i * 15 * 60_000;
    // probe2 lost power for three hours on Wednesday afternoon.
    if (probe === 'probe2' && i >= 2 * 96 + 58 && i < 2 * 96 + 69) continue;
    const hour = new Date(ms).getUTCHours() + new Date(ms).getUTCMinutes() / 60;
    const daily = Math.sin(((hour - 9) / 24) * 2 * Math.PI) * swing;
    const value = base + daily + (random() - 0.5) * 1.6;
    lines.push(`${stamp(ms)},${probe},${value.toFixed(2)}`);
    if (probe === 'probe1' && i === 300) lines.push(`${stamp(ms)},${probe},${value.toFixed(2)}`); // a duplicated reading
    if (probe === 'probe1' && i === 415) lines.push(`${stamp(ms + 60_000)},${probe},ERR`); // the sensor reported an error code
  }
  writeFileSync(join(dir, `temperature_${probe}.csv`), `${lines.join('\n')}\n`);
}

const sites = ['north-hall', 'south-hall', 'cold-store'];
const documents = [];
for (let i = 0; i < 120; i += 1) {
  const at = new Date(start + Math.floor(random() * 7 * 86_400_000));
  documents.push({
    _id: { $oid: (0x6560a000 + i).toString(16).padStart(8, '0') + '0000000000000000' },
    site: sites[i % sites.length],
    recorded_at: { $date: at.toISOString() },
    sensor: { id: `s-${(i % 7) + 1}`, model: i % 2 === 0 ? 'TX-200' : 'TX-300' },
    humidity_pct: Math.round((35 + random() * 40) * 10) / 10,
    alarms: i % 17 === 0 ? ['high-humidity'] : [],
  });
}
writeFileSync(join(dir, 'sensor_documents.json'), `${JSON.stringify(documents, null, 2)}\n`);
console.log(`demo data written to ${dir}`);
