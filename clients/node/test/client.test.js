'use strict';
// Client-side rules that need no daemon: token files in procd's format, no
// token in clear off loopback, and procd's environment deny list.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { Procd, clientEnvironment, parseTokenFile, loopbackAddress } = require('..');

const secret = 'ci-0123456789abcdef';

test('token files: the token alone, or one line NAME ROLE TOKEN', () => {
  for (const text of [`${secret}\n`, `# name role token\nci control ${secret}\n`, `\nviewer read ${secret}\n`]) {
    assert.equal(parseTokenFile(text), secret, text);
  }
  for (const [text, want] of [
    ['', /no token/],
    ['ci control short\n', /at least 16/],
    [`ci admin ${secret}\n`, /unknown role "admin"/],
    ['ci control\n', /found 2 fields/],
    [`a control a-0123456789abcdef\nb read b-0123456789abcdef\n`, /holds 2 tokens/],
  ]) {
    assert.throws(() => parseTokenFile(text), (e) => e.code === 'INVALID_ARGUMENT' && want.test(e.message), text);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdn-token-'));
  try {
    const file = path.join(dir, 'ci.token');
    fs.writeFileSync(file, `ci control ${secret}\n`);
    const c = new Procd({ address: '127.0.0.1:1', tokenFile: file });
    assert.equal(c._metadata().get('authorization')[0], `Bearer ${secret}`);
    c.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('no bearer token in clear off loopback', () => {
  for (const address of ['10.0.0.1:7443', 'procd.example:7443']) {
    assert.throws(() => new Procd({ address, token: secret }), (e) => e.code === 'INVALID_ARGUMENT' &&
      e.message.includes(`refusing to send the bearer token in clear to ${address}`));
  }
  for (const address of ['127.0.0.1:7443', '127.8.9.1:1', 'localhost:7443', '[::1]:7443']) {
    assert.ok(loopbackAddress(address), address);
    new Procd({ address, token: secret }).close();
  }
  assert.ok(!loopbackAddress('10.0.0.1:7443'));
  new Procd({ address: '10.0.0.1:7443', token: secret, tls: true }).close();
});

test('non-root callers skip procd\'s deny list', () => {
  const env = {
    PATH: '/bin', LD_PRELOAD: 'x.so', 'BASH_FUNC_ls%%': '() { :; }', PYTHONPATH: '/x', GLIBC_TUNABLES: 'x', IFS: ':',
    LDX: 'kept', NOTIFY_SOCKET: '/n',
  };
  assert.deepEqual(clientEnvironment(env, 1000), { PATH: '/bin', LDX: 'kept' });
  const root = { ...env };
  delete root.NOTIFY_SOCKET;
  assert.deepEqual(clientEnvironment(env, 0), root);
});
