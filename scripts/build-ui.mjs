/**
 * Builds the web UI (src/ui/client) into dist/ui: type-checks it with its own tsconfig, bundles and
 * minifies it with esbuild into content-hashed assets, writes .gz and .br siblings for the server to
 * pick by Accept-Encoding, and writes index.html referencing the hashed files. Prints compressed sizes.
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const client = join(root, 'src', 'ui', 'client');
const out = join(root, 'dist', 'ui');
/** The budget for the first load's compressed JavaScript. */
const JS_BUDGET_BYTES = 200 * 1024;

execFileSync(
  process.execPath,
  [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(client, 'tsconfig.json')],
  {
    stdio: 'inherit',
  },
);

// A fresh temporary folder, renamed into place, so a half-written build is never served.
const temp = `${out}.tmp-${process.pid}`;
await rm(temp, { recursive: true, force: true });
await mkdir(join(temp, 'assets'), { recursive: true });
const result = await build({
  entryPoints: { app: join(client, 'main.tsx') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: join(temp, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const files = Object.keys(result.metafile.outputs).map((file) => join(root, file));
const sizes = [];
for (const file of files) {
  const body = await readFile(file);
  const gz = gzipSync(body, { level: 9 });
  const br = brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
  await writeFile(`${file}.gz`, gz);
  await writeFile(`${file}.br`, br);
  sizes.push({ name: basename(file), raw: body.length, gz: gz.length, br: br.length });
}
const js = sizes.find((entry) => entry.name.endsWith('.js'));
const css = sizes.find((entry) => entry.name.endsWith('.css'));
if (!js || !css)
  throw new Error(
    `build-ui: expected one .js and one .css asset, got ${sizes.map((s) => s.name).join(', ')}`,
  );

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Pipewright</title>
<link rel="stylesheet" href="/assets/${css.name}">
<script type="module" src="/assets/${js.name}"></script>
</head>
<body>
<div id="app"><noscript>Pipewright's web UI needs JavaScript.</noscript></div>
</body>
</html>
`;
await writeFile(join(temp, 'index.html'), html);

const old = `${out}.old-${process.pid}`;
await rename(out, old).catch((error) => {
  if (error.code !== 'ENOENT') throw error;
});
await rename(temp, out);
await rm(old, { recursive: true, force: true });

for (const entry of sizes) {
  process.stdout.write(
    `ui: ${entry.name}  ${kb(entry.raw)} raw, ${kb(entry.gz)} gzip, ${kb(entry.br)} brotli\n`,
  );
}
if (js.gz > JS_BUDGET_BYTES) {
  throw new Error(`build-ui: the JavaScript is ${kb(js.gz)} gzipped, over the ${kb(JS_BUDGET_BYTES)} budget`);
}
function kb(bytes) {
  return `${(bytes / 1024).toFixed(1)} KB`;
}
