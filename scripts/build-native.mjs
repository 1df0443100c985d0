#!/usr/bin/env node
// Builds native/ (the TAP addon) with node-gyp against the headers of the Node that runs us,
// so node-gyp never downloads headers: /usr/bin/node -> /usr/include/node,
// /usr/local/bin/node (official image) -> /usr/local/include/node.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const prefix = resolve(dirname(process.execPath), '..');
const env = { ...process.env };
if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  env.npm_config_nodedir = prefix;
}
if (process.platform !== 'linux') {
  console.error('nanoshare: skipping the TAP addon: it is Linux-only (the in-memory and pcap links still work)');
  process.exit(0);
}

// node-gyp: the one npm runs scripts with, else npm's bundled copy, else a local install.
function findNodeGyp() {
  if (env.npm_config_node_gyp && existsSync(env.npm_config_node_gyp)) return env.npm_config_node_gyp;
  const candidates = [
    join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    /* not installed locally */
  }
  return candidates.find((p) => existsSync(p));
}

const gyp = findNodeGyp();
if (!gyp) {
  console.error('nanoshare: cannot find node-gyp (it ships with npm); install npm or run `npm i -g node-gyp`');
  process.exit(1);
}
const args = [gyp, 'rebuild', '--directory', join(root, 'native')];
if (env.npm_config_nodedir) args.push(`--nodedir=${env.npm_config_nodedir}`);
const r = spawnSync(process.execPath, args, { stdio: 'inherit', env });
process.exit(r.status ?? 1);
