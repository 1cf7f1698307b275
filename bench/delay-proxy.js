#!/usr/bin/env node
// A TCP proxy on loopback that delays every byte by DELAY_MS in each direction, so that a
// benchmark against the local S3 test server sees a round trip of 2 x DELAY_MS, as a distant
// server would give (this machine's kernel has no netem). Order is kept: equal delays fire in order.
// Nothing pushes back: what a fast sender writes waits in memory (fine for a benchmark's data).
// Usage: node delay-proxy.js LISTEN_PORT TARGET_PORT DELAY_MS   (prints "ready PORT")
'use strict';
const net = require('net');
const [listen, target, delay] = process.argv.slice(2).map(Number);
net
  .createServer(client => {
    const server = net.connect(target, '127.0.0.1');
    const relay = (from, to) => {
      from.on('data', chunk => setTimeout(() => to.write(chunk), delay));
      from.on('end', () => setTimeout(() => to.end(), delay));
      from.on('error', () => to.destroy());
    };
    relay(client, server);
    relay(server, client);
  })
  .listen(listen, '127.0.0.1', () => process.stdout.write(`ready ${listen}\n`));
