// The reference way of bench/s3-upload.mjs: the AWS SDK's own multipart helper (`Upload` of
// @aws-sdk/lib-storage) used alone, with the client settings, part size and queue size Pipewright's
// S3 store uses, and nothing else (no checksums of its own).
//
//   node bench/s3-upload-sdk.mjs <endpoint> <bucket> <key> <file> <part-size-bytes> <queue-size>
import { createReadStream } from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

const [endpoint, bucket, key, file, partSize, queueSize] = process.argv.slice(2);
if (queueSize === undefined) {
  process.stderr.write(
    'usage: node bench/s3-upload-sdk.mjs <endpoint> <bucket> <key> <file> <part-size> <queue-size>\n',
  );
  process.exit(2);
}
const client = new S3Client({
  region: 'auto',
  endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});
const upload = new Upload({
  client,
  partSize: Number(partSize),
  queueSize: Number(queueSize),
  leavePartsOnError: true,
  params: {
    Bucket: bucket,
    Key: key,
    Body: createReadStream(file, { highWaterMark: 1024 * 1024 }),
    ContentType: 'application/octet-stream',
  },
});
const out = await upload.done();
client.destroy();
process.stdout.write(`${JSON.stringify({ etag: out.ETag })}\n`);
