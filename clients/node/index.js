'use strict';
// Node.js client of procd, the process-supervisor daemon.
//
// CommonJS module (require('./clients/node') or, from ESM,
// `import procd from '.../clients/node/index.js'`). The gRPC API
// (proto/procd/v1/procd.proto) is loaded at run time with
// @grpc/proto-loader with these options, which fix the shape of every
// object this module takes and returns:
//
//   keepCase: false  fields are lowerCamelCase (exitCode, afterSeq, maxHangTime);
//                    snake_case keys are accepted in requests and renamed.
//   longs: Number    int64/uint64 fields are plain numbers (byte counts and
//                    event sequence numbers stay far below 2^53); the one
//                    exception is an "unlimited" rlimit (2^64-1), which reads
//                    back as RLIM_INFINITY (2^64 as a double).
//   enums: String    enum values are their full proto names
//                    ('EVENT_TYPE_EXITED'); requests also take the short
//                    form ('exited', 'stdout', 'pipe').
//   defaults: true   unset scalars read as their zero value, unset messages
//                    as null; proto3 `optional` fields (ExitStatus.exitCode,
//                    ExitStatus.signalNumber) are absent when unset.
//   oneofs: true     a oneof's name holds the field that is set
//                    (RunBatchResponse.kind === 'summary').
//
// Durations in requests take milliseconds (number), a Go-style string
// ('1.5s', '250ms', '2m') or a google.protobuf.Duration {seconds, nanos};
// durations and timestamps in responses are {seconds, nanos} objects (see
// durationToMs and timestampToDate).

const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

/**
 * Where the proto files are: the copy packed into the npm package (proto/
 * beside this file, made by `npm pack`), else the repository's proto/ when
 * this module runs from a checkout.
 */
const DEFAULT_PROTO_ROOT = fs.existsSync(path.join(__dirname, 'proto', 'procd', 'v1', 'procd.proto'))
  ? path.join(__dirname, 'proto')
  : path.resolve(__dirname, '..', '..', 'proto');
const PROTO_FILE = 'procd/v1/procd.proto';
const PKG = 'procd.v1';

/** The proto-loader options this module uses (see the header comment). */
const LOADER_OPTIONS = Object.freeze({
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});

/** RLIM_INFINITY (2^64-1) as it reads back with longs: Number. */
const RLIM_INFINITY = 2 ** 64;
const UINT64_MAX = '18446744073709551615';

/** gRPC status codes by number, e.g. STATUS_NAMES[5] === 'NOT_FOUND'. */
const STATUS_NAMES = Object.freeze(
  Object.fromEntries(Object.entries(grpc.status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v, k])),
);

// ---------------------------------------------------------------------------
// Errors

/**
 * The error every failed call rejects with (and every stream throws).
 *
 * - code: the gRPC status code's name, e.g. 'NOT_FOUND', 'INVALID_ARGUMENT'.
 * - grpcCode: the same as a number (grpc.status), e.g. 5.
 * - message: procd's message, e.g. 'start "x": executable "x" not found in PATH (...)'.
 * - details: the status details string exactly as gRPC delivered it (for
 *   daemon errors the same as message; for connection failures message is
 *   rewritten to name the socket, details keeps grpc-js's text).
 * - metadata: the trailers as a plain object.
 * - method: the RPC that failed, e.g. 'StartProcess'.
 */
class ProcdError extends Error {
  /**
   * @param {string} code gRPC status name ('NOT_FOUND')
   * @param {string} message
   * @param {{grpcCode?: number, details?: string, metadata?: Record<string, unknown>, method?: string, cause?: unknown}} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'ProcdError';
    /** @type {string} */
    this.code = code;
    /** @type {number} */
    this.grpcCode = extra.grpcCode !== undefined ? extra.grpcCode : grpc.status[code];
    /** @type {string} */
    this.details = extra.details !== undefined ? extra.details : message;
    /** @type {Record<string, unknown>} */
    this.metadata = extra.metadata || {};
    /** @type {string|undefined} */
    this.method = extra.method;
  }
}

function invalid(message) {
  return new ProcdError('INVALID_ARGUMENT', message, { grpcCode: grpc.status.INVALID_ARGUMENT });
}

/**
 * Turns a grpc-js error (a ServiceError) into a ProcdError.
 * @param {any} err
 * @param {string} method
 * @param {string} where the daemon's address, for connection failures
 * @returns {ProcdError}
 */
function toProcdError(err, method, where) {
  if (err instanceof ProcdError) return err;
  if (!err || typeof err.code !== 'number') {
    return new ProcdError('UNKNOWN', String((err && err.message) || err), {
      grpcCode: grpc.status.UNKNOWN, method, cause: err,
    });
  }
  const details = typeof err.details === 'string' ? err.details : String(err.message || '');
  let code = STATUS_NAMES[err.code] || 'UNKNOWN';
  let message = details;
  let grpcCode = err.code;
  if (code === 'UNAVAILABLE' && /EACCES|permission denied/i.test(details)) {
    code = 'PERMISSION_DENIED';
    grpcCode = grpc.status.PERMISSION_DENIED;
    message = `permission denied connecting to procd at ${where}: this user may not open its socket ` +
      "(procd's --socket-mode and --socket-group decide who may)";
  } else if (code === 'UNAVAILABLE' && /No connection established|ECONNREFUSED|ENOENT|connect|Failed to connect/i.test(details)) {
    const m = /Last error: (?:Error: )?(.*?)(?:\.?\s*Resolution note:.*)?$/s.exec(details);
    message = `cannot reach procd at ${where}: ${m ? m[1] : details} (is procd running? start it with \`procd\`, ` +
      'or point PROCD_SOCKET or PROCD_ADDR at it)';
  }
  /** @type {Record<string, unknown>} */
  let metadata = {};
  try {
    if (err.metadata && typeof err.metadata.getMap === 'function') metadata = err.metadata.getMap();
  } catch (_) { /* keep empty */ }
  return new ProcdError(code, message, { grpcCode, details, metadata, method, cause: err });
}

// ---------------------------------------------------------------------------
// Defaults and helpers

/**
 * procd's default socket, as procd and procctl compute it: /run/procd/procd.sock
 * for root, else $XDG_RUNTIME_DIR/procd/procd.sock (when absolute), else
 * <tmpdir>/procd-$UID/procd.sock. PROCD_SOCKET is not consulted here.
 * @returns {string}
 */
function defaultSocket() {
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  if (uid === 0) return '/run/procd/procd.sock';
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'procd', 'procd.sock');
  return path.join(os.tmpdir(), `procd-${uid}`, 'procd.sock');
}

/**
 * Converts milliseconds, a Go-style duration string or a Duration object to
 * a google.protobuf.Duration.
 * @param {number|string|bigint|{seconds?: number|string, nanos?: number}} v
 * @param {string} [what] field name for errors
 * @returns {{seconds: number, nanos: number}}
 */
function toDuration(v, what = 'duration') {
  if (typeof v === 'bigint') v = Number(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw invalid(`${what}: ${v} is not a finite number of milliseconds`);
    const seconds = Math.trunc(v / 1000);
    let nanos = Math.round((v - seconds * 1000) * 1e6);
    if (Math.abs(nanos) >= 1e9) return { seconds: seconds + Math.sign(nanos), nanos: 0 };
    return { seconds, nanos };
  }
  if (typeof v === 'string') return toDuration(parseGoDuration(v, what), what);
  if (v && typeof v === 'object' && ('seconds' in v || 'nanos' in v)) {
    return { seconds: Number(v.seconds || 0), nanos: Number(v.nanos || 0) };
  }
  throw invalid(`${what}: expected milliseconds, a string like "1.5s" or {seconds, nanos}, got ${describe(v)}`);
}

const UNIT_MS = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };

/** Parses "1.5s", "1m30s", "250ms" into milliseconds. */
function parseGoDuration(s, what) {
  const str = s.trim();
  let rest = str;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  const re = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  let total = 0;
  if (!rest) throw invalid(`${what}: "${s}" is not a duration (like "1.5s", "250ms", "2m")`);
  while (rest) {
    const m = re.exec(rest);
    if (!m) throw invalid(`${what}: "${s}" is not a duration (like "1.5s", "250ms", "2m")`);
    total += parseFloat(m[1]) * UNIT_MS[m[2]];
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

/**
 * A google.protobuf.Duration in milliseconds (null stays null).
 * @param {{seconds: number|string, nanos: number}|null|undefined} d
 * @returns {number|null}
 */
function durationToMs(d) {
  if (!d) return null;
  return Number(d.seconds) * 1000 + (d.nanos || 0) / 1e6;
}

/**
 * A google.protobuf.Timestamp as a Date (null stays null).
 * @param {{seconds: number|string, nanos: number}|null|undefined} ts
 * @returns {Date|null}
 */
function timestampToDate(ts) {
  if (!ts) return null;
  return new Date(Number(ts.seconds) * 1000 + Math.floor((ts.nanos || 0) / 1e6));
}

/**
 * The shell-style status of a finished process: its exit code, or 128+N when
 * signal N killed it; null while it runs.
 * @param {{exit?: {exitCode?: number, signalNumber?: number}|null}} proc
 * @returns {number|null}
 */
function exitCodeOf(proc) {
  const e = proc && proc.exit;
  if (!e) return null;
  if (typeof e.signalNumber === 'number') return 128 + e.signalNumber;
  if (typeof e.exitCode === 'number') return e.exitCode;
  return null;
}

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v);
  return typeof v;
}

/**
 * A process reference: a string of digits or a number is a pid (as in
 * procctl), any other string an id ("p-3"); {id} or {pid} objects (a Process
 * record works) pass through.
 * @param {string|number|{id?: string, pid?: number}} ref
 * @returns {{id: string}|{pid: number}}
 */
function targetOf(ref) {
  if (typeof ref === 'number') {
    if (!Number.isInteger(ref) || ref <= 0 || ref > 0x7fffffff) throw invalid(`pid ${ref} is not valid`);
    return { pid: ref };
  }
  if (typeof ref === 'string') {
    if (ref === '') throw invalid('empty process id');
    if (/^\d+$/.test(ref)) return targetOf(Number(ref));
    return { id: ref };
  }
  if (ref && typeof ref === 'object') {
    if (typeof ref.id === 'string' && ref.id !== '') return { id: ref.id };
    if (typeof ref.pid === 'number') return targetOf(ref.pid);
  }
  throw invalid(`expected a process id ("p-3") or pid (number), got ${describe(ref)}`);
}

/** Like targetOf, but also takes {selector: {...}} for bulk RPCs. */
function bulkTargetOf(ref) {
  if (ref && typeof ref === 'object' && !Array.isArray(ref) && ref.selector) return { selector: ref.selector };
  return targetOf(ref);
}

/** A batch job: a spec object, an argv array, or a shell line (/bin/sh -c, as procctl batch). */
function jobSpec(job, i) {
  if (typeof job === 'string') return { command: ['/bin/sh', '-c', job] };
  if (Array.isArray(job)) return { command: job.map(String) };
  if (job && typeof job === 'object') return job;
  throw invalid(`jobs[${i}]: expected a spec object, an argv array or a shell command line, got ${describe(job)}`);
}

// Variables of the caller's own service manager: never handed to a process
// that inherits the caller's environment (procd sets its own NOTIFY_SOCKET).
const CLIENT_ONLY_ENV = new Set(['NOTIFY_SOCKET', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'WATCHDOG_PID', 'WATCHDOG_USEC']);

// procd's default deny list for callers less privileged than procd (Go:
// internal/policy DeniedEnvNames; a Go test compares the two): names ending
// in "*" are prefixes. These variables change what a program loads or runs;
// procd refuses them from such callers, so the client never forwards them.
// BEGIN denied-env
const DENIED_ENV = Object.freeze([
  'LD_*', 'BASH_FUNC_*',
  'GCONV_PATH', 'GETCONF_DIR', 'GLIBC_TUNABLES', 'HOSTALIASES', 'LOCALDOMAIN', 'LOCPATH',
  'MALLOC_TRACE', 'NIS_PATH', 'NLSPATH', 'RESOLV_HOST_CONF', 'RES_OPTIONS',
  'BASH_ENV', 'ENV', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'IFS',
  'PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP', 'PYTHONINSPECT', 'PYTHONUSERBASE',
  'PERL5LIB', 'PERLLIB', 'PERL5OPT', 'PERL5DB', 'RUBYLIB', 'RUBYOPT', 'NODE_OPTIONS',
  'NODE_PATH', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'LUA_INIT',
  'LUA_PATH', 'LUA_CPATH',
]);
// END denied-env
const DENIED_PREFIXES = DENIED_ENV.filter((n) => n.endsWith('*')).map((n) => n.slice(0, -1));
const DENIED_NAMES = new Set(DENIED_ENV.filter((n) => !n.endsWith('*')));

/**
 * Whether procd refuses this variable from a caller less privileged than
 * itself (see DENIED_ENV).
 * @param {string} name
 * @returns {boolean}
 */
function deniedEnv(name) {
  return DENIED_NAMES.has(name) || DENIED_PREFIXES.some((p) => name.startsWith(p));
}

/**
 * The environment a process inherits from this client (see the
 * inheritContext option): process.env minus the caller's service-manager
 * variables (NOTIFY_SOCKET, LISTEN_*, WATCHDOG_*) and, for a caller that is
 * not root, procd's deny list DENIED_ENV (LD_*, BASH_FUNC_*, glibc's unsecure
 * variables, shell and interpreter start-up variables: procd refuses them
 * from non-root callers, as they would run code in processes run with the
 * daemon's privileges). Root callers forward them.
 * @param {Record<string, string|undefined>} [env]
 * @param {number} [uid]
 * @returns {Record<string, string>}
 */
function clientEnvironment(env = process.env, uid = typeof process.getuid === 'function' ? process.getuid() : -1) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || CLIENT_ONLY_ENV.has(k)) continue;
    if (uid !== 0 && deniedEnv(k)) continue;
    out[k] = v;
  }
  return out;
}

/** The shortest token procd accepts (internal/policy MinTokenLen). */
const MIN_TOKEN_LEN = 16;

/**
 * The bearer token in a client's token file: the token alone, or one line
 * NAME ROLE TOKEN as in procd's --token-file (blank lines and # comments
 * ignored). A file of several tokens (procd's own) is refused.
 * @param {string} text
 * @param {string} [file] for messages
 * @returns {string}
 */
function parseTokenFile(text, file = 'token file') {
  const lines = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line && !line.startsWith('#')) lines.push({ n: i + 1, fields: line.split(/\s+/) });
  });
  if (lines.length === 0) throw invalid(`${file}: no token in it (write the token alone, or one line NAME ROLE TOKEN)`);
  if (lines.length > 1) throw invalid(`${file} holds ${lines.length} tokens (procd's own file?); give the client a file with only yours`);
  const { n, fields } = lines[0];
  let token;
  if (fields.length === 1) {
    token = fields[0];
  } else if (fields.length === 3) {
    const [name, role] = fields;
    if (role !== 'control' && role !== 'read') throw invalid(`${file}:${n}: token ${name}: unknown role "${role}" (use control or read)`);
    token = fields[2];
  } else {
    throw invalid(`${file}:${n}: want NAME ROLE TOKEN (or the token alone), found ${fields.length} fields`);
  }
  if (token.length < MIN_TOKEN_LEN) throw invalid(`${file}:${n}: the token is ${token.length} characters; procd wants at least ${MIN_TOKEN_LEN}`);
  return token;
}

/**
 * Whether host:port names a loopback address (localhost, 127.0.0.0/8, [::1]).
 * @param {string} address
 * @returns {boolean}
 */
function loopbackAddress(address) {
  const i = address.lastIndexOf(':');
  if (i < 0) return false;
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost' || host === '::1') return true;
  return net.isIPv4(host) && host.split('.')[0] === '127';
}

/**
 * A spec completed with the caller's context: cwd = process.cwd() unless
 * set; unless clearEnv (or clear_env) was set explicitly, env is laid over
 * the caller's environment, which is sent whole with clearEnv: true.
 * @param {any} spec
 */
function withCallerContext(spec) {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return spec;
  const out = { ...spec };
  if (out.cwd === undefined || out.cwd === null || out.cwd === '') out.cwd = process.cwd();
  if (out.clearEnv === undefined && out.clear_env === undefined) {
    out.env = { ...clientEnvironment(), ...(out.env || {}) };
    out.clearEnv = true;
  }
  return out;
}

function deadlineOf(opts) {
  if (opts && opts.deadlineMs !== undefined && opts.deadlineMs !== null) {
    if (typeof opts.deadlineMs !== 'number' || !(opts.deadlineMs >= 0)) throw invalid(`deadlineMs: ${opts.deadlineMs} is not a number of milliseconds`);
    return new Date(Date.now() + opts.deadlineMs);
  }
  return undefined;
}

function readPem(v, what) {
  if (v === undefined || v === null || v === '') return null;
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return Buffer.from(v);
  if (typeof v === 'string') {
    if (v.includes('-----BEGIN')) return Buffer.from(v);
    try {
      return fs.readFileSync(v);
    } catch (e) {
      throw new ProcdError('INVALID_ARGUMENT', `tls.${what}: ${e.message}`, { cause: e });
    }
  }
  throw invalid(`tls.${what}: expected a PEM file path, PEM text or a Buffer`);
}

// ---------------------------------------------------------------------------
// Request normalisation, driven by the descriptors proto-loader provides:
// durations from milliseconds, short enum names, 64-bit values, snake_case
// keys; unknown fields are refused instead of silently dropped.

const SCALAR_TYPES = new Set([
  'TYPE_DOUBLE', 'TYPE_FLOAT', 'TYPE_INT32', 'TYPE_UINT32', 'TYPE_SINT32', 'TYPE_FIXED32', 'TYPE_SFIXED32', 'TYPE_BOOL', 'TYPE_STRING',
]);
const LONG_TYPES = new Set(['TYPE_INT64', 'TYPE_UINT64', 'TYPE_SINT64', 'TYPE_FIXED64', 'TYPE_SFIXED64']);

function camel(s) {
  return s.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
}

class Schema {
  constructor(def) {
    this.def = def;
    this.fieldCache = new Map();
  }

  /** The DescriptorProto of a message by full name. */
  message(name) {
    const d = this.def[name];
    if (!d || !d.type || !Array.isArray(d.type.field)) throw new Error(`procd client: no message ${name} in the proto`);
    return d.type;
  }

  /** Resolves a field's typeName (relative in proto-loader's descriptors). */
  resolve(scopeName, scopeType, typeName) {
    const nested = (scopeType.nestedType || []).find((n) => n.name === typeName);
    if (nested) return { nested };
    for (const cand of [typeName, `${PKG}.${typeName}`, `${scopeName}.${typeName}`]) {
      if (this.def[cand]) return { name: cand };
    }
    throw new Error(`procd client: cannot resolve type ${typeName} in ${scopeName}`);
  }

  fields(name) {
    let f = this.fieldCache.get(name);
    if (!f) {
      const t = this.message(name);
      f = new Map(t.field.map((x) => [x.name, x]));
      this.fieldCache.set(name, f);
    }
    return f;
  }

  enumValues(name) {
    const d = this.def[name];
    return d.type.value.map((v) => v.name);
  }

  normEnum(enumName, v, where) {
    const values = this.enumValues(enumName);
    if (typeof v === 'number') {
      if (Number.isInteger(v)) return v;
    } else if (typeof v === 'string') {
      if (values.includes(v)) return v;
      const unspecified = values.find((x) => x.endsWith('_UNSPECIFIED')) || '';
      const prefix = unspecified.slice(0, unspecified.length - 'UNSPECIFIED'.length);
      const full = prefix + v.trim().toUpperCase().replace(/[-\s]/g, '_');
      if (values.includes(full)) return full;
    }
    throw invalid(`${where}: unknown ${enumName.replace(`${PKG}.`, '')} ${describe(v)} ` +
      `(one of ${values.join(', ')}, or the same without the prefix, in any case)`);
  }

  normLong(field, v, where) {
    const unsigned = field.type === 'TYPE_UINT64' || field.type === 'TYPE_FIXED64';
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'string') {
      if (unsigned && /^(unlimited|infinity)$/i.test(v.trim())) return UINT64_MAX;
      if (!/^-?\d+$/.test(v.trim())) throw invalid(`${where}: ${JSON.stringify(v)} is not an integer`);
      return v.trim();
    }
    if (typeof v === 'number') {
      if (unsigned && (v === Infinity || v >= 2 ** 64)) return UINT64_MAX;
      if (!Number.isInteger(v)) throw invalid(`${where}: ${v} is not an integer`);
      if (!Number.isSafeInteger(v)) return BigInt(v).toString();
      return v;
    }
    throw invalid(`${where}: expected an integer, got ${describe(v)}`);
  }

  /**
   * Normalises a request object of message type `name`.
   * @param {string} name full message name
   * @param {any} obj
   * @param {string} where path for error messages
   * @param {any} [nestedType] a nested DescriptorProto (map entries)
   */
  norm(name, obj, where, nestedType) {
    if (obj === undefined || obj === null) return obj;
    if (name === 'google.protobuf.Duration') return toDuration(obj, where);
    if (name === 'google.protobuf.Timestamp') {
      if (obj instanceof Date) {
        const ms = obj.getTime();
        return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000 + 1000) % 1000 * 1e6 };
      }
      return obj;
    }
    if (typeof obj !== 'object' || Array.isArray(obj)) {
      throw invalid(`${where}: expected an object (${name.replace(`${PKG}.`, '')}), got ${describe(obj)}`);
    }
    const type = nestedType || this.message(name);
    const fields = nestedType ? new Map(nestedType.field.map((x) => [x.name, x])) : this.fields(name);
    const out = {};
    for (const [key, value] of Object.entries(obj)) {
      if (value === undefined) continue;
      const field = fields.get(key) || fields.get(camel(key));
      if (!field) {
        const names = [...fields.keys()].join(', ');
        throw invalid(`${where}: unknown field "${key}" (fields: ${names})`);
      }
      const fwhere = where ? `${where}.${field.name}` : field.name;
      out[field.name] = this.normField(name, type, field, value, fwhere);
    }
    return out;
  }

  normField(scopeName, scopeType, field, value, where) {
    if (value === null) return null;
    const resolved = field.type === 'TYPE_MESSAGE' || field.type === 'TYPE_ENUM' ? this.resolve(scopeName, scopeType, field.typeName) : null;
    const isMap = resolved && resolved.nested && resolved.nested.options && resolved.nested.options.mapEntry;
    if (isMap) {
      const entries = value instanceof Map ? [...value.entries()] : (typeof value === 'object' && !Array.isArray(value) ? Object.entries(value) : null);
      if (!entries) throw invalid(`${where}: expected an object of key/value pairs, got ${describe(value)}`);
      const out = {};
      for (const [k, v] of entries) {
        if (v === undefined) continue;
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
          throw invalid(`${where}["${k}"]: expected a string, got ${describe(v)}`);
        }
        out[k] = String(v);
      }
      return out;
    }
    if (field.label === 'LABEL_REPEATED') {
      if (!Array.isArray(value)) throw invalid(`${where}: expected an array, got ${describe(value)}`);
      return value.map((v, i) => this.normOne(field, resolved, v, `${where}[${i}]`));
    }
    return this.normOne(field, resolved, value, where);
  }

  normOne(field, resolved, v, where) {
    switch (field.type) {
      case 'TYPE_MESSAGE':
        return this.norm(resolved.name || field.typeName, v, where, resolved.nested);
      case 'TYPE_ENUM':
        return this.normEnum(resolved.name, v, where);
      case 'TYPE_BYTES':
        if (typeof v === 'string') return Buffer.from(v, 'utf8');
        if (Buffer.isBuffer(v)) return v;
        if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
        throw invalid(`${where}: expected a Buffer, Uint8Array or string, got ${describe(v)}`);
      default:
        if (LONG_TYPES.has(field.type)) return this.normLong(field, v, where);
        if (SCALAR_TYPES.has(field.type)) {
          const want = field.type === 'TYPE_STRING' ? 'string' : field.type === 'TYPE_BOOL' ? 'boolean' : 'number';
          if (typeof v !== want) throw invalid(`${where}: expected a ${want}, got ${describe(v)}`);
        }
        return v;
    }
  }
}

/** Removes proto-loader's markers of proto3 optional fields ("_exitCode": "exitCode") from a response. */
function clean(v) {
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v) || v instanceof Uint8Array) return v;
  if (Array.isArray(v)) {
    for (const x of v) clean(x);
    return v;
  }
  for (const k of Object.keys(v)) {
    if (k.charCodeAt(0) === 95 /* _ */ && typeof v[k] === 'string') delete v[k];
    else clean(v[k]);
  }
  return v;
}

// ---------------------------------------------------------------------------
// Loading the proto

const loaded = new Map();

function loadProto(protoRoot) {
  let l = loaded.get(protoRoot);
  if (!l) {
    const file = path.join(protoRoot, PROTO_FILE);
    if (!fs.existsSync(file)) {
      throw new Error(`procd client: the API definition ${file} is missing (pass protoRoot or set PROCD_PROTO_ROOT to the repository's proto/ directory)`);
    }
    const def = protoLoader.loadSync(PROTO_FILE, { ...LOADER_OPTIONS, includeDirs: [protoRoot] });
    const pkg = /** @type {any} */ (grpc.loadPackageDefinition(def)).procd.v1;
    l = { def, pkg, schema: new Schema(def) };
    loaded.set(protoRoot, l);
  }
  return l;
}

// ---------------------------------------------------------------------------
// The client

/**
 * @typedef {object} ProcdOptions
 * @property {string} [socket] procd's Unix socket (default: PROCD_SOCKET, else defaultSocket())
 * @property {string} [address] procd's TCP address host:port instead of the socket (default: PROCD_ADDR)
 * @property {{ca?: string|Buffer, cert?: string|Buffer, key?: string|Buffer}|boolean} [tls]
 *   TLS for address: PEM file paths, PEM text or Buffers (default: PROCD_TLS_CA,
 *   PROCD_TLS_CERT, PROCD_TLS_KEY). `true` uses the system's roots.
 * @property {string} [tokenFile] file holding the bearer token procd wants (default: PROCD_TOKEN_FILE)
 * @property {string} [token] the bearer token itself
 * @property {string} [protoRoot] the proto/ directory (default: PROCD_PROTO_ROOT, else the packaged proto/, else ../../proto from this file)
 * @property {boolean} [inheritContext] start processes in the caller's working directory and environment
 *   (see clientEnvironment) unless the spec sets cwd or clearEnv; default true on the Unix socket, false over TCP
 * @property {Record<string, string|number>} [channelOptions] extra grpc-js channel options
 */

/**
 * @typedef {object} CallOptions
 * @property {number} [deadlineMs] fail with DEADLINE_EXCEEDED after this many milliseconds
 * @property {AbortSignal} [signal] cancels the call (CANCELLED)
 */

class Procd {
  /** @param {ProcdOptions} [opts] */
  constructor(opts = {}) {
    const env = process.env;
    const explicit = opts.socket !== undefined || opts.address !== undefined;
    const address = explicit ? opts.address : env.PROCD_ADDR || undefined;
    const socket = explicit ? opts.socket : env.PROCD_SOCKET || undefined;
    const protoRoot = path.resolve(opts.protoRoot || env.PROCD_PROTO_ROOT || DEFAULT_PROTO_ROOT);
    const { pkg, schema } = loadProto(protoRoot);
    this._schema = schema;

    let target;
    if (address) {
      this.where = address;
      target = address;
    } else {
      const sock = path.resolve(socket || defaultSocket());
      this.where = sock;
      target = `unix://${sock}`;
    }
    /** The daemon's address (socket path or host:port), for messages. */
    this.target = target;
    /**
     * Whether startProcess and runBatch fill in the caller's cwd and
     * environment (the default on the local socket; over TCP the caller's
     * paths mean nothing to the daemon).
     * @type {boolean}
     */
    this.inheritContext = opts.inheritContext !== undefined ? !!opts.inheritContext : !address;

    let tlsOpt = opts.tls;
    if (tlsOpt === undefined && (env.PROCD_TLS_CA || env.PROCD_TLS_CERT)) {
      tlsOpt = { ca: env.PROCD_TLS_CA, cert: env.PROCD_TLS_CERT, key: env.PROCD_TLS_KEY };
    }
    let creds;
    if (tlsOpt) {
      const t = tlsOpt === true ? {} : tlsOpt;
      const cert = readPem(t.cert, 'cert');
      const key = readPem(t.key, 'key');
      if (!!cert !== !!key) throw invalid('tls: cert and key go together');
      creds = grpc.credentials.createSsl(readPem(t.ca, 'ca'), key, cert);
    } else {
      creds = grpc.credentials.createInsecure();
    }

    let token = opts.token;
    const tokenFile = opts.tokenFile !== undefined ? opts.tokenFile : env.PROCD_TOKEN_FILE;
    if (token === undefined && tokenFile) {
      let text;
      try {
        text = fs.readFileSync(tokenFile, 'utf8');
      } catch (e) {
        throw new ProcdError('INVALID_ARGUMENT', `tokenFile: ${e.message}`, { cause: e });
      }
      token = parseTokenFile(text, tokenFile);
    }
    if (typeof token === 'string') token = token.trim();
    if (token && address && !tlsOpt && !loopbackAddress(address)) {
      throw invalid(`refusing to send the bearer token in clear to ${address}: connect with TLS (tls.ca) or to a loopback address`);
    }
    this._token = token || null;

    const channelOptions = {
      'grpc.max_receive_message_length': 64 << 20,
      // procd is near: reconnect quickly once it (re)appears.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2000,
      ...(opts.channelOptions || {}),
    };
    this._process = new pkg.ProcessService(target, creds, channelOptions);
    this._batch = new pkg.BatchService(target, creds, { ...channelOptions, channelOverride: this._process.getChannel() });
    this._closed = false;
  }

  /** Closes the connection; calls in progress are cancelled. */
  close() {
    if (this._closed) return;
    this._closed = true;
    this._process.close();
  }

  _metadata() {
    const md = new grpc.Metadata();
    if (this._token) md.set('authorization', `Bearer ${this._token}`);
    return md;
  }

  _norm(type, obj, where = '') {
    return this._schema.norm(`${PKG}.${type}`, obj, where);
  }

  /**
   * Calls a unary RPC and returns its cleaned response.
   * @param {'process'|'batch'} svc
   * @param {string} method e.g. 'StartProcess'
   * @param {string} reqType e.g. 'StartProcessRequest'
   * @param {() => object} build builds the request (may throw a ProcdError)
   * @param {CallOptions} [opts]
   */
  _unary(svc, method, reqType, build, opts = {}) {
    return new Promise((resolve, reject) => {
      if (this._closed) {
        reject(new ProcdError('CANCELLED', 'the procd client is closed', { method }));
        return;
      }
      let req;
      let options;
      try {
        req = this._norm(reqType, build());
        options = { deadline: deadlineOf(opts) };
      } catch (e) {
        reject(e instanceof ProcdError ? Object.assign(e, { method }) : e);
        return;
      }
      const client = svc === 'batch' ? this._batch : this._process;
      const fn = method.charAt(0).toLowerCase() + method.slice(1);
      const signal = opts.signal;
      if (signal && signal.aborted) {
        reject(new ProcdError('CANCELLED', 'cancelled before the call started', { method }));
        return;
      }
      let onAbort;
      const call = client[fn](req, this._metadata(), options, (err, resp) => {
        if (signal && onAbort) signal.removeEventListener('abort', onAbort);
        if (err) reject(toProcdError(err, method, this.where));
        else resolve(clean(resp));
      });
      if (signal) {
        onAbort = () => call.cancel();
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  /**
   * Starts a server-streaming RPC and returns an async iterator over its
   * messages (mapped by `map`). The call starts at once; leaving a for-await
   * loop early (break, return, throw) cancels it.
   */
  _stream(svc, method, reqType, build, map, opts = {}) {
    let call = null;
    let startError = null;
    const signal = opts.signal;
    try {
      if (this._closed) throw new ProcdError('CANCELLED', 'the procd client is closed');
      const req = this._norm(reqType, build());
      const client = svc === 'batch' ? this._batch : this._process;
      const fn = method.charAt(0).toLowerCase() + method.slice(1);
      if (signal && signal.aborted) throw new ProcdError('CANCELLED', 'cancelled before the call started');
      call = client[fn](req, this._metadata(), { deadline: deadlineOf(opts) });
      call.on('error', () => {}); // errors are delivered through the iterator
    } catch (e) {
      startError = e instanceof ProcdError ? Object.assign(e, { method }) : e;
    }
    const where = this.where;
    const onAbort = () => call && call.cancel();
    if (call && signal) signal.addEventListener('abort', onAbort, { once: true });
    async function* iterate() {
      if (startError) throw startError;
      try {
        for await (const msg of call) {
          const out = map(clean(msg));
          if (Array.isArray(out)) yield* out; // a batch of events
          else if (out !== undefined) yield out;
        }
      } catch (e) {
        throw toProcdError(e, method, where);
      } finally {
        if (signal) signal.removeEventListener('abort', onAbort);
        call.cancel(); // a no-op once the call has ended
      }
    }
    return Object.assign(iterate(), {
      /** Cancels the call; a pending or later next() ends with CANCELLED. */
      cancel: () => {
        if (call) call.cancel();
      },
    });
  }

  // --- ProcessService: unary -------------------------------------------------

  /**
   * Starts a process and returns its record once it is running. An exec
   * failure (executable not found, missing cwd, permission) rejects and
   * leaves no record.
   * @param {import('./index').ProcessSpec | string[]} spec a ProcessSpec, or just an argv array
   * @param {CallOptions} [opts]
   * @returns {Promise<import('./index').Process>}
   */
  async startProcess(spec, opts) {
    const resp = await this._unary('process', 'StartProcess', 'StartProcessRequest', () => {
      if (Array.isArray(spec)) spec = { command: spec };
      if (!spec || typeof spec !== 'object') throw invalid(`spec: expected an object or an argv array, got ${describe(spec)}`);
      return { spec: this.inheritContext ? withCallerContext(spec) : spec };
    }, opts);
    return resp.process;
  }

  /**
   * Waits for a process to finish and returns its final record. With
   * timeoutMs (or timeout), returns the live record and timedOut = true
   * when it is still running after that long. With untilReady, returns as
   * soon as the process is ready (its readyAt is then set) or has ended.
   * @param {string|number|{id?: string, pid?: number}} idOrPid
   * @param {CallOptions & {timeoutMs?: number, timeout?: number|string, untilReady?: boolean}} [opts]
   * @returns {Promise<{process: import('./index').Process, timedOut: boolean}>}
   */
  waitForProcess(idOrPid, opts = {}) {
    return this._unary('process', 'WaitForProcess', 'WaitForProcessRequest', () => {
      const t = opts.timeoutMs !== undefined ? opts.timeoutMs : opts.timeout;
      return { ...targetOf(idOrPid), timeout: t === undefined || t === null ? undefined : t, untilReady: !!opts.untilReady };
    }, opts);
  }

  /**
   * The current record of one process.
   * @returns {Promise<import('./index').Process>}
   */
  async getProcess(idOrPid, opts) {
    return (await this._unary('process', 'GetProcess', 'GetProcessRequest', () => targetOf(idOrPid), opts)).process;
  }

  /**
   * The records matching the filters, oldest first.
   * @param {{states?: string[], name?: string, labels?: Record<string, string>} & CallOptions} [filter]
   * @returns {Promise<import('./index').Process[]>}
   */
  async listProcesses(filter = {}) {
    const { deadlineMs, signal, ...f } = filter;
    const resp = await this._unary('process', 'ListProcesses', 'ListProcessesRequest', () => f, { deadlineMs, signal });
    return resp.processes;
  }

  /**
   * Sends a signal ("timeout", "force", "interrupt", a name like "SIGUSR1" or
   * "HUP", or a number) to a process's group, or to every process a selector
   * matches ({selector: {all, name, labels, ids}}).
   * @param {string|number|{id?: string, pid?: number}|{selector: object}} target
   * @param {string|number} signal
   * @param {CallOptions & {leaderOnly?: boolean}} [opts]
   * @returns {Promise<{signal: string, results: Array<{id: string, pid: number, delivered: boolean, error: string}>}>}
   */
  sendSignal(target, signal, opts = {}) {
    return this._unary('process', 'SendSignal', 'SendSignalRequest', () => {
      if (typeof signal !== 'string' && typeof signal !== 'number') throw invalid(`signal: expected a name or number, got ${describe(signal)}`);
      return { ...bulkTargetOf(target), signal: String(signal), leaderOnly: !!opts.leaderOnly };
    }, opts);
  }

  /**
   * Stops processes gracefully (stop signal, grace, SIGKILL to the group) and
   * returns one result per process once each tree is gone.
   * @param {string|number|{id?: string, pid?: number}|{selector: object}} target
   * @param {CallOptions & {graceMs?: number, grace?: number|string, stopSignal?: string|number}} [opts]
   *   stopSignal overrides the process's stop signal (a string or number
   *   given as opts.signal is taken as the stop signal too; an AbortSignal
   *   there cancels the call as everywhere else).
   * @returns {Promise<Array<{process: import('./index').Process, error: string}>>}
   */
  async stopProcess(target, opts = {}) {
    const grace = opts.graceMs !== undefined ? opts.graceMs : opts.grace;
    let stopSignal = opts.stopSignal;
    let abort = opts.signal;
    if (typeof abort === 'string' || typeof abort === 'number') {
      stopSignal = stopSignal === undefined ? abort : stopSignal;
      abort = undefined;
    }
    const resp = await this._unary('process', 'StopProcess', 'StopProcessRequest',
      () => ({ ...bulkTargetOf(target), grace, signal: stopSignal === undefined ? undefined : String(stopSignal) }),
      { deadlineMs: opts.deadlineMs, signal: abort });
    return resp.results;
  }

  /**
   * Records a heartbeat now (the watchdog's heartbeat activity source).
   * @returns {Promise<import('./index').Process>}
   */
  async updateActivity(idOrPid, opts) {
    return (await this._unary('process', 'UpdateActivity', 'UpdateActivityRequest', () => targetOf(idOrPid), opts)).process;
  }

  /**
   * Deletes the record (and output) of a finished process; returns it.
   * @returns {Promise<import('./index').Process>}
   */
  async removeProcess(idOrPid, opts) {
    return (await this._unary('process', 'RemoveProcess', 'RemoveProcessRequest', () => targetOf(idOrPid), opts)).process;
  }

  /**
   * Deletes the records of finished processes matching the selector (all
   * finished ones without one); returns the removed ids.
   * @param {{all?: boolean, name?: string, labels?: Record<string, string>, ids?: string[]}} [selector]
   * @param {CallOptions} [opts]
   * @returns {Promise<string[]>}
   */
  async cleanupFinished(selector, opts) {
    const resp = await this._unary('process', 'CleanupFinished', 'CleanupFinishedRequest',
      () => (selector ? { selector } : {}), opts);
    return resp.removedIds;
  }

  /**
   * Daemon-wide counters.
   * @returns {Promise<import('./index').Stats>}
   */
  getStats(opts) {
    return this._unary('process', 'GetStats', 'GetStatsRequest', () => ({}), opts);
  }

  /**
   * Writes to the stdin of a process started with stdin 'pipe' (and closes
   * it with close: true); returns the bytes written.
   * @param {string|number|{id?: string, pid?: number}} idOrPid
   * @param {Buffer|Uint8Array|string} data
   * @param {CallOptions & {close?: boolean}} [opts]
   * @returns {Promise<number>}
   */
  async writeInput(idOrPid, data, opts = {}) {
    const resp = await this._unary('process', 'WriteInput', 'WriteInputRequest',
      () => ({ ...targetOf(idOrPid), data: data === undefined || data === null ? Buffer.alloc(0) : data, close: !!opts.close }), opts);
    return resp.written;
  }

  /**
   * Polls GetStats until procd answers (or timeoutMs passes, default 10 s);
   * returns the stats.
   * @param {{timeoutMs?: number, intervalMs?: number}} [opts]
   * @returns {Promise<import('./index').Stats>}
   */
  async waitUntilServing(opts = {}) {
    const timeoutMs = opts.timeoutMs !== undefined ? opts.timeoutMs : 10000;
    const intervalMs = opts.intervalMs !== undefined ? opts.intervalMs : 50;
    const end = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.getStats({ deadlineMs: Math.max(1, Math.min(2000, end - Date.now())) });
      } catch (e) {
        if (!(e instanceof ProcdError) || !['UNAVAILABLE', 'DEADLINE_EXCEEDED'].includes(e.code) || Date.now() >= end) throw e;
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  // --- ProcessService: streams ----------------------------------------------

  /**
   * Streams events. With afterSeq (a number; 0 = everything retained), the
   * retained events after it are replayed first, so nothing is missed
   * between a getStats().events.lastSeq and the subscription; without it,
   * only events published from now on. Filters are ANDed: types
   * (['started', 'exited'] or full names), processIds, names, labels.
   * Yields Event objects; never ends on its own: break out of the loop or
   * call .cancel(). A subscriber too slow for the ring ends with
   * RESOURCE_EXHAUSTED; a resume point already dropped with OUT_OF_RANGE.
   * @param {{afterSeq?: number, types?: string[], processIds?: string[], names?: string[], labels?: Record<string, string>, batch?: boolean} & CallOptions} [opts]
   * @returns {AsyncGenerator<import('./index').Event, void, undefined> & {cancel(): void}}
   */
  watchEvents(opts = {}) {
    // Batches cost both ends less per event under load; they are
    // flattened here, so the caller sees one event at a time either way.
    const { deadlineMs, signal, ...req } = opts;
    return this._stream('process', 'WatchEvents', 'WatchEventsRequest', () => ({ batch: true, ...req }),
      (m) => (m.events && m.events.length ? m.events : m.event), { deadlineMs, signal });
  }

  /**
   * Streams captured output from a byte offset (per stream): chunks
   * {stream: 'STREAM_STDOUT'|'STREAM_STDERR', offset, data: Buffer,
   * skippedBytes}. With follow, keeps streaming until the process has exited
   * and all its output is sent. stream: 'stdout', 'stderr' or both (unset).
   * @param {string|number|{id?: string, pid?: number}} idOrPid
   * @param {{follow?: boolean, stream?: string, offset?: number, tailBytes?: number} & CallOptions} [opts]
   * @returns {AsyncGenerator<import('./index').OutputChunk, void, undefined> & {cancel(): void}}
   */
  readOutput(idOrPid, opts = {}) {
    const { deadlineMs, signal, ...rest } = opts;
    return this._stream('process', 'ReadOutput', 'ReadOutputRequest',
      () => ({ ...targetOf(idOrPid), ...rest }), (m) => m, { deadlineMs, signal });
  }

  /**
   * Attaches to a process: output chunks from the given offsets, then the
   * final record; with stdin: true, also takes its stdin (one attached
   * client at a time; another gets FAILED_PRECONDITION).
   *
   * The returned object is an async iterator of messages
   * {kind: 'output', output: chunk} ... then {kind: 'exit', exit: Process},
   * with write(data), closeStdin(), releaseStdin(), resize({rows, cols}),
   * end() (no more client messages; output goes on) and cancel().
   * @param {string|number|{id?: string, pid?: number}} idOrPid
   * @param {{stdin?: boolean, stdoutOffset?: number, stderrOffset?: number, tailBytes?: number} & CallOptions} [opts]
   * @returns {import('./index').Attachment}
   */
  attach(idOrPid, opts = {}) {
    const { deadlineMs, signal, ...start } = opts;
    const method = 'Attach';
    const where = this.where;
    let call = null;
    let startError = null;
    try {
      if (this._closed) throw new ProcdError('CANCELLED', 'the procd client is closed');
      const first = this._norm('AttachRequest', { start: { ...targetOf(idOrPid), ...start } });
      if (signal && signal.aborted) throw new ProcdError('CANCELLED', 'cancelled before the call started');
      call = this._process.attach(this._metadata(), { deadline: deadlineOf({ deadlineMs }) });
      call.on('error', () => {});
      call.write(first);
    } catch (e) {
      startError = e instanceof ProcdError ? Object.assign(e, { method }) : e;
    }
    const onAbort = () => call && call.cancel();
    if (call && signal) signal.addEventListener('abort', onAbort, { once: true });
    const send = (msg) => new Promise((resolve, reject) => {
      if (startError) {
        reject(startError);
        return;
      }
      let req;
      try {
        req = this._norm('AttachRequest', msg);
      } catch (e) {
        reject(e);
        return;
      }
      if (call.writableEnded || call.destroyed) {
        reject(new ProcdError('FAILED_PRECONDITION', 'the attach is closed for sending', { method }));
        return;
      }
      call.write(req, (err) => (err ? reject(toProcdError(err, method, where)) : resolve()));
    });
    async function* iterate() {
      if (startError) throw startError;
      try {
        for await (const msg of call) yield clean(msg);
      } catch (e) {
        throw toProcdError(e, method, where);
      } finally {
        if (signal) signal.removeEventListener('abort', onAbort);
        call.cancel();
      }
    }
    const it = iterate();
    return Object.assign(it, {
      /** @param {Buffer|Uint8Array|string} data */
      write: (data) => send({ stdin: data }),
      closeStdin: () => send({ closeStdin: true }),
      releaseStdin: () => send({ releaseStdin: true }),
      /** @param {{rows: number, cols: number}} size */
      resize: (size) => send({ resize: size }),
      end: () => {
        if (call && !call.writableEnded) call.end();
      },
      cancel: () => {
        if (call) call.cancel();
      },
    });
  }

  // --- BatchService --------------------------------------------------------

  /**
   * Runs jobs under a concurrency limit and streams progress: a message when
   * the batch starts ({kind: 'started', started}), when each attempt starts
   * and finishes ({kind: 'attemptStarted'|'attemptFinished', ...}), and
   * last the summary ({kind: 'summary', summary}). Leaving the loop early
   * cancels the batch (procd stops its running jobs).
   * @param {Array<import('./index').ProcessSpec|string[]|string>} jobs specs, argv arrays, or shell lines (run with /bin/sh -c)
   * @param {{maxConcurrency?: number, timeout?: number|string, retry?: object, deadline?: number|string, failFast?: boolean, labels?: Record<string, string>, name?: string} & CallOptions} [opts]
   * @returns {AsyncGenerator<import('./index').RunBatchResponse, void, undefined> & {cancel(): void}}
   */
  runBatch(jobs, opts = {}) {
    const { deadlineMs, signal, ...rest } = opts;
    return this._stream('batch', 'RunBatch', 'RunBatchRequest', () => {
      if (!Array.isArray(jobs)) throw invalid(`jobs: expected an array, got ${describe(jobs)}`);
      const specs = jobs.map(jobSpec);
      return { ...rest, jobs: this.inheritContext ? specs.map(withCallerContext) : specs };
    }, (m) => m, { deadlineMs, signal });
  }
}

/** The gRPC API package this client speaks; the package's major version follows it (1.x: procd.v1). */
const API_PACKAGE = PKG;
/** This package's version. */
const VERSION = require('./package.json').version;

module.exports = {
  Procd,
  ProcdError,
  defaultSocket,
  clientEnvironment,
  deniedEnv,
  DENIED_ENV,
  parseTokenFile,
  loopbackAddress,
  API_PACKAGE,
  VERSION,
  toDuration,
  durationToMs,
  timestampToDate,
  exitCodeOf,
  RLIM_INFINITY,
  LOADER_OPTIONS,
  DEFAULT_PROTO_ROOT,
};
module.exports.default = Procd;
