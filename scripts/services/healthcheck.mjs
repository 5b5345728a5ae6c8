#!/usr/bin/env node
// Container health check for the facewatch image (docker-compose.yml), with no tools beyond node.
//   node scripts/services/healthcheck.mjs http://127.0.0.1:8000/api/v1/ready
//       healthy when the URL answers 2xx (the api's readiness: models loaded, store answering)
//   node scripts/services/healthcheck.mjs --deps
//       healthy when every broker in KAFKA_BROKERS and the DATABASE_URL host accept a TCP
//       connection: ingest and matcher have no HTTP port, so this checks that the process's
//       container can reach what it needs (the process itself is watched by `restart`).
import net from 'node:net';

const TIMEOUT_MS = 4000;

function tcp(host, port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, timeout: TIMEOUT_MS });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error(`${host}:${port}: timed out`));
    });
    socket.once('error', (err) => reject(new Error(`${host}:${port}: ${err.message}`)));
  });
}

function hostPort(entry, defaultPort) {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(entry.trim());
  if (!m) throw new Error(`cannot read host:port from "${entry}"`);
  return [m[1], Number(m[2] ?? defaultPort)];
}

async function main(arg) {
  if (arg === '--deps') {
    const targets = (process.env.KAFKA_BROKERS ?? '')
      .split(',')
      .filter((b) => b.trim() !== '')
      .map((b) => hostPort(b, 9092));
    if (process.env.DATABASE_URL) {
      const url = new URL(process.env.DATABASE_URL);
      targets.push([url.hostname, Number(url.port || 5432)]);
    }
    if (targets.length === 0) throw new Error('neither KAFKA_BROKERS nor DATABASE_URL is set');
    await Promise.all(targets.map(([host, port]) => tcp(host, port)));
    return;
  }
  if (!arg || !/^https?:\/\//.test(arg)) throw new Error('usage: healthcheck.mjs <url> | --deps');
  const res = await fetch(arg, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (!res.ok) throw new Error(`${arg}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
}

main(process.argv[2]).then(
  () => process.exit(0),
  (err) => {
    console.error(`unhealthy: ${err.message}`);
    process.exit(1);
  },
);
