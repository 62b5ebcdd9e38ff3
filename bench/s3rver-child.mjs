// The local S3-compatible server of bench/s3-upload.mjs in a process of its own, so its CPU can be
// told apart from the measured child's: s3rver on 127.0.0.1 (a free port), its data in the folder
// given, with one bucket. Prints `{"port":…}` once listening; stops on SIGTERM.
//
//   node bench/s3rver-child.mjs <data-dir> <bucket>
import S3rver from 's3rver';

const [directory, bucket] = process.argv.slice(2);
if (directory === undefined || bucket === undefined) {
  process.stderr.write('usage: node bench/s3rver-child.mjs <data-dir> <bucket>\n');
  process.exit(2);
}
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  vhostBuckets: false,
  configureBuckets: [{ name: bucket }],
});
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.on('SIGTERM', () => {
  void server.close().finally(() => process.exit(0));
});
