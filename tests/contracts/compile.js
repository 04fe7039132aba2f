// Compile Solidity standard-JSON input (stdin) with the solc npm package's bundled soljson.js
// (solcjs; nothing is downloaded) and print {"version": compiler version, "output": standard-JSON output}.
// Imports resolve against this folder, then node_modules (e.g. @openzeppelin/contracts/...).
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

function findImports(importPath) {
  for (const base of [__dirname, path.join(__dirname, "node_modules")]) {
    const candidate = path.resolve(base, importPath);
    if (candidate.startsWith(__dirname + path.sep) && fs.existsSync(candidate)) {
      return { contents: fs.readFileSync(candidate, "utf8") };
    }
  }
  return { error: `not found: ${importPath}` };
}

const input = fs.readFileSync(0, "utf8");
const output = JSON.parse(solc.compile(input, { import: findImports }));
process.stdout.write(JSON.stringify({ version: solc.version(), output }));
