#!/usr/bin/env -S node --max-semi-space-size=8 --max-old-space-size=160
// Entry point for the `cspsync` command. The code is TypeScript run through Node 24's type stripping;
// npm scripts and `npx cspsync` put the project's Node 24 (devDependency `node`) first on PATH. A small young
// generation and a capped old generation keep memory flat while streaming large billing files (BENCHMARKS.md).
const [major] = process.versions.node.split(".").map(Number);
if (major < 24) {
  console.error(`cspsync needs Node.js 24 or newer (this is ${process.version}); run it through npm / npx.`);
  process.exit(1);
}
await import("../src/cli/main.ts");
