// Validates an AsyncAPI document with the official parser (@asyncapi/parser 3.x) and prints
// its diagnostics as JSON: {"valid": bool, "diagnostics": [{code, message, path, severity}]}.
// Exit 0 when valid: a document came back and no diagnostic has severity 0 (error); else 1.
// Usage: node asyncapi_validate.mjs <file> [parser-dir]
// The parser is resolved from parser-dir, else $ASYNCAPI_PARSER_DIR, else .cache/asyncapi-parser
// of the repository (`./crm test` installs it there).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const file = process.argv[2];
if (!file) {
  console.error("usage: node asyncapi_validate.mjs <file> [parser-dir]");
  process.exit(2);
}
const parserDir = path.resolve(
  process.argv[3] || process.env.ASYNCAPI_PARSER_DIR || path.join(here, "../../../.cache/asyncapi-parser"),
);
const require = createRequire(path.join(parserDir, "package.json"));
const { Parser } = require("@asyncapi/parser");

const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(file, "utf8"), {
  source: path.resolve(file),
});
const out = diagnostics.map((d) => ({
  code: d.code,
  message: d.message,
  path: d.path,
  severity: d.severity,
}));
const valid = document !== undefined && !out.some((d) => d.severity === 0);
console.log(JSON.stringify({ valid, diagnostics: out }, null, 2));
process.exit(valid ? 0 : 1);
