// Loaded into each web node by `npm run bench:load` only (`--require`), never by `npm start`: on
// {type: "bench:heap"} over the IPC channel it runs a full garbage collection and answers
// {type: "bench:heap", heapUsed, external, rss} (bytes), so memory per socket is measured on live objects,
// not on whatever garbage the set-up left in the heap (V8 collects it when it pleases: a heap
// read without this went from 360 to 302 MiB while 10,000 sockets connected).
"use strict";
const v8 = require("node:v8");
const vm = require("node:vm");

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc");

process.on("message", (message) => {
  if (!message || message.type !== "bench:heap") return;
  // Twice: objects with finalizers or weak references freed by the first are reclaimed by the second.
  gc();
  gc();
  const { heapUsed, external, rss } = process.memoryUsage();
  process.send?.({ type: "bench:heap", heapUsed, external, rss });
});
