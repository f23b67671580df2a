'use strict';
// Packs the API definition into the npm package: `npm pack` (prepack) copies
// the repository's proto/procd/v1/procd.proto to proto/procd/v1/ beside
// index.js, which the client loads in preference to ../../proto; postpack
// (--clean) removes the copy again, so the checkout keeps one proto.
const fs = require('node:fs');
const path = require('node:path');

const here = path.resolve(__dirname, '..');
const src = path.resolve(here, '..', '..', 'proto', 'procd', 'v1', 'procd.proto');
const dst = path.join(here, 'proto', 'procd', 'v1', 'procd.proto');

if (process.argv.includes('--clean')) {
  fs.rmSync(path.join(here, 'proto'), { recursive: true, force: true });
} else {
  if (!fs.existsSync(src)) {
    console.error(`copy-proto: ${src} is missing: pack from a procd checkout`);
    process.exit(1);
  }
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  fs.copyFileSync(src, dst);
}
