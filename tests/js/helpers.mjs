// Shared by the JavaScript tests: where the vectors and the modules are.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const VERIFY = join(ROOT, "api", "web", "static", "js", "verify");

export function vector(path) {
  return JSON.parse(readFileSync(join(ROOT, "tests", "vectors", path), "utf8"));
}
