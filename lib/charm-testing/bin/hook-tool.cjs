#!/usr/bin/env node
// One hook tool (relation-get, status-set, ...): forwards its argv to the fake unit agent
// (tool-server.ts) over the unix socket in JUJU_AGENT_SOCKET_ADDRESS, tagged with
// JUJU_CONTEXT_ID, as Juju's jujuc client does, then relays stdout, stderr and the exit code.
// Spawned for every tool call, so it stays plain CommonJS with node: builtins only.
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose: fastest start-up */
const net = require('node:net');
const path = require('node:path');

function fail(message) {
  process.stderr.write(`ERROR ${message}\n`);
  process.exit(1);
}

// Juju reads a relative `--file PATH` (and secret-add's `key#file=PATH`) from the hook's cwd;
// the fake agent runs elsewhere, so hand it absolute paths. `-` stays `-` (stdin).
function absolutePaths(args) {
  const out = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--file' && i + 1 < args.length) {
      out.push(arg, args[i + 1] === '-' ? '-' : path.resolve(args[i + 1]));
      i++;
    } else if (arg.startsWith('--file=') && arg !== '--file=-') {
      out.push(`--file=${path.resolve(arg.slice(7))}`);
    } else if (/^[^-=#][^=#]*#file=./.test(arg)) {
      const at = arg.indexOf('#file=') + 6;
      out.push(arg.slice(0, at) + path.resolve(arg.slice(at)));
    } else {
      out.push(arg);
    }
  }
  return out;
}

// Only `--file -` makes a tool read stdin; anything else must not block on an open terminal.
function wantsStdin(args) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--file=-' || (args[i] === '--file' && args[i + 1] === '-')) return true;
  }
  return false;
}

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (chunk) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function call(socketPath, request) {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    const chunks = [];
    socket.on('connect', () => socket.write(JSON.stringify(request) + '\n'));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new Error('bad response from the unit agent'));
      }
    });
    socket.on('error', reject);
  });
}

async function main() {
  const socketPath = process.env.JUJU_AGENT_SOCKET_ADDRESS;
  const contextId = process.env.JUJU_CONTEXT_ID;
  if (!socketPath) fail('JUJU_AGENT_SOCKET_ADDRESS not set');
  if (!contextId) fail('JUJU_CONTEXT_ID not set');
  const tool = path.basename(process.argv[1]);
  const args = absolutePaths(process.argv.slice(2));
  const request = { contextId, tool, args, cwd: process.cwd() };
  if (wantsStdin(args)) request.stdin = await readStdin();
  let response;
  try {
    response = await call(socketPath, request);
  } catch (err) {
    fail(`cannot reach the unit agent: ${err && err.message ? err.message : String(err)}`);
  }
  // Exit only once both streams are flushed (pipes are asynchronous).
  const code = Number.isInteger(response.code) ? response.code : 1;
  process.stdout.write(response.stdout || '', () =>
    process.stderr.write(response.stderr || '', () => process.exit(code)),
  );
}

main().catch((err) => fail(err && err.message ? err.message : String(err)));
