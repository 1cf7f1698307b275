#!/usr/bin/env node
// The S3 test server of btw-backup: s3rver with the fixes its tests need (see FIELD-NOTES):
//  1. listings in S3's byte order: s3rver walks the folder tree and cuts pages in walk order,
//     so with several pages keys go missing and a mirroring client deletes live objects;
//  2. a PUT answered only once the object is on disk: s3rver answers before its write
//     stream closes, so a HEAD or GET right after can see a short object;
//  3. a multipart upload's ETag as S3 gives it: the MD5 of its parts' MD5s, then "-" and the
//     number of parts. s3rver gives the MD5 of the whole content, which would let a client
//     take a multipart ETag for the content's MD5 here and fail against S3;
//  4. a listing that does not walk the whole bucket for every page (see sortedKeys);
//  5. a body that does not match its Content-MD5 refused with BadDigest, as S3 does, and the
//     object it would have replaced kept (s3rver stored it and answered its MD5 as the ETag).
// Usage: node server.js --port N --directory DIR --bucket NAME [--bucket NAME...] [--tls-cert PEM --tls-key PEM]
// (with both TLS files it serves HTTPS).
// Prints "ready PORT" on stdout once it listens.
'use strict';

const { AsyncLocalStorage } = require('async_hooks');
const crypto = require('crypto');
const fs = require('fs-extra');
const path = require('path');
const S3rver = require('s3rver');
const FilesystemStore = require('s3rver/lib/stores/filesystem');
const S3Object = require('s3rver/lib/models/object');
const S3Error = require('s3rver/lib/models/error');

// The request being served, for the store (which sees only the object): its Content-MD5.
const requests = new AsyncLocalStorage();

/**
 * The MD5 (hex) a PUT's Content-MD5 header announces for its body, or undefined without one
 * (a multipart upload's completion, a POST, stores its object with no body of its own).
 */
function announcedMd5() {
  const ctx = requests.getStore();
  const header = ctx?.method === 'PUT' ? ctx.get('content-md5') : '';
  return header ? Buffer.from(header, 'base64').toString('hex') : undefined;
}

function badDigest() {
  return new S3Error('BadDigest', 'The Content-MD5 you specified did not match what was received.');
}

const OBJECT_SUFFIX = '._S3rver_object';

// A bucket's keys, sorted in S3's byte order, walked once and kept until a request changes the
// bucket's keys: walking and sorting the whole bucket for every page made a listing of N keys
// cost N * N / 1000 (minutes at 100,000 keys, seen in bench/run scale), which is this server's
// cost, not a client's. Every store method that adds or removes a key drops the cache; nothing
// else may change the bucket's folder while the server runs.
const sortedKeys = new Map(); // bucket -> [{ key, bytes }]

function walkKeys(bucketPath) {
  const keys = [];
  const visit = dir => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (entry.name.endsWith(OBJECT_SUFFIX)) {
        const key = full.slice(bucketPath.length + 1, -OBJECT_SUFFIX.length);
        keys.push({ key, bytes: Buffer.from(key, 'utf8') });
      }
    }
  };
  if (fs.existsSync(bucketPath)) visit(bucketPath);
  return keys.sort((a, b) => Buffer.compare(a.bytes, b.bytes));
}

function keysOf(store, bucket) {
  let keys = sortedKeys.get(bucket);
  if (!keys) {
    keys = walkKeys(store.getBucketPath(bucket));
    sortedKeys.set(bucket, keys);
  }
  return keys;
}

// The index of the first key whose bytes are not below `bytes` (strictly above when `after`).
function lowerBound(keys, bytes, after) {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const c = Buffer.compare(keys[mid].bytes, bytes);
    if (c < 0 || (after && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

FilesystemStore.prototype.listObjects = async function listObjectsSorted(bucket, options) {
  const { delimiter = '', startAfter = '', prefix = '', maxKeys = Infinity } = options;
  const all = keysOf(this, bucket);
  const keys = [];
  const prefixes = new Set();
  let isTruncated = false;
  const from = Math.max(lowerBound(all, Buffer.from(prefix, 'utf8'), false),
    startAfter ? lowerBound(all, Buffer.from(startAfter, 'utf8'), true) : 0);
  // Keys that start with the prefix are contiguous in byte order.
  for (let i = from; i < all.length && all[i].key.startsWith(prefix); i++) {
    const key = all[i].key;
    if (delimiter) {
      const at = key.indexOf(delimiter, prefix.length);
      if (at !== -1) {
        prefixes.add(key.slice(0, at + delimiter.length));
        continue;
      }
    }
    if (keys.length >= maxKeys) {
      isTruncated = true;
      break;
    }
    keys.push(key);
  }
  const metadata = await Promise.all(keys.map(key =>
    this.getMetadata(bucket, key).catch(err => (err.code === 'ENOENT' ? undefined : Promise.reject(err)))));
  return {
    objects: keys.flatMap((key, i) => (metadata[i] ? [new S3Object(bucket, key, null, metadata[i])] : [])),
    commonPrefixes: [...prefixes].sort(),
    isTruncated,
  };
};

FilesystemStore.prototype.putObject = async function putObjectDurable(object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  await fs.mkdirp(path.dirname(objectPath));
  const md5 = crypto.createHash('md5');
  let size = 0;
  // Written beside, then renamed over the object once its MD5 is the one announced.
  const partial = `${objectPath}.partial`;
  const out = fs.createWriteStream(partial);
  const closed = new Promise((resolve, reject) => {
    out.on('close', resolve);
    out.on('error', reject);
  });
  if (Buffer.isBuffer(object.content)) {
    md5.update(object.content);
    size = object.content.length;
    out.end(object.content);
  } else {
    object.content.on('data', chunk => {
      md5.update(chunk);
      size += chunk.length;
    });
    object.content.on('error', err => out.destroy(err));
    object.content.pipe(out);
  }
  await closed;
  const digest = md5.digest('hex');
  const announced = announcedMd5();
  if (announced !== undefined && announced !== digest) {
    await fs.remove(partial);
    throw badDigest();
  }
  await fs.rename(partial, objectPath);
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
};

const putPart = FilesystemStore.prototype.putPart;
FilesystemStore.prototype.putPart = async function putPartChecked(bucket, uploadId, partNumber, content) {
  const result = await putPart.call(this, bucket, uploadId, partNumber, content);
  const announced = announcedMd5();
  if (announced !== undefined && announced !== result.md5) {
    const partPath = path.join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId, partNumber.toString());
    await Promise.all([fs.remove(partPath), fs.remove(`${partPath}.md5`)]);
    throw badDigest();
  }
  return result;
};

const putObjectMultipart = FilesystemStore.prototype.putObjectMultipart;
FilesystemStore.prototype.putObjectMultipart = async function putObjectMultipartS3Etag(bucket, uploadId, parts) {
  const uploadDir = path.join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId);
  const key = (await fs.readFile(path.join(uploadDir, 'key'))).toString();
  const numbers = parts.map(part => part.number).sort((a, b) => a - b);
  const digests = await Promise.all(numbers.map(n => fs.readFile(path.join(uploadDir, `${n}.md5`), 'utf8')));
  const result = await putObjectMultipart.call(this, bucket, uploadId, parts);
  const etag = `${crypto.createHash('md5').update(Buffer.concat(digests.map(d => Buffer.from(d, 'hex')))).digest('hex')}-${numbers.length}`;
  await fs.writeFile(this.getResourcePath(bucket, key, 'object.md5'), etag);
  return { ...result, md5: etag };
};

// After the overrides above, so that they too drop the cache.
for (const method of ['putObject', 'copyObject', 'deleteObject', 'putObjectMultipart', 'putBucket', 'deleteBucket']) {
  const original = FilesystemStore.prototype[method];
  FilesystemStore.prototype[method] = async function keysChanged(...args) {
    sortedKeys.clear();
    try {
      return await original.apply(this, args);
    } finally {
      sortedKeys.clear();
    }
  };
}
const reset = FilesystemStore.prototype.reset;
FilesystemStore.prototype.reset = function resetKeys() {
  sortedKeys.clear();
  return reset.call(this);
};

const args = process.argv.slice(2);
const option = name => {
  const at = args.indexOf(name);
  return at === -1 ? undefined : args[at + 1];
};
const buckets = args.flatMap((a, i) => (a === '--bucket' ? [{ name: args[i + 1], configs: [] }] : []));

const server = new S3rver({
  address: '127.0.0.1',
  port: Number(option('--port') ?? 4568),
  directory: option('--directory'),
  silent: true,
  configureBuckets: buckets,
  ...(option('--tls-cert') && option('--tls-key')
    ? { cert: fs.readFileSync(option('--tls-cert')), key: fs.readFileSync(option('--tls-key')) }
    : {}),
});
// First of all, so that the store's methods run inside it.
server.middleware.unshift((ctx, next) => requests.run(ctx, next));
server
  .run()
  .then(address => process.stdout.write(`ready ${address.port}\n`))
  .catch(err => {
    process.stderr.write(`s3 test server: ${err.stack || err}\n`);
    process.exit(1);
  });
