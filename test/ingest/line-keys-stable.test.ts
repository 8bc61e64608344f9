import assert from "node:assert/strict";
import path from "node:path";
import test from "node:test";
import { readLines } from "../../src/sources/reconciliation/read-lines.ts";

/**
 * Line keys are how cspsync recognises lines it already holds, so they must not change between versions: a
 * database filled by an earlier version is re-imported by the next one. These are the content hashes the
 * sample file's lines have had since line keys were introduced; a change to parsing, typing or hashing that
 * moves any of them fails here (and would need a migration of stored keys).
 */
const SAMPLE_HASHES = [
  "2c99a91e9eec38d9e06618c7e7676e54e9a24d71",
  "fd585a587a1409b9ae1e22226b33b6816f5cee02",
  "ad7e75444f53b3fd54a9a0e09e8d4b4a09b084b9",
  "bf04f9fa4892c0564e3a52bd143cfc903de96c61",
  "8e397bfe50f6121b9639953660fa4a2bdfa6f8e5",
  "caed274977b6c9649331910df6c2b2077a1c4dcb",
  "7274382e0cfb79dd86f65d24dd6f2f1fee9ed390",
  "90d503bc46b346c89d9ad1f492b876c04c78a76c",
  "3628ed5a5ceeca6c21ce0d7a7c2f6a88f388ef48",
  "dcd5362cf5adcdf53eb70e11ecf05bd7c991bfd4",
  "fd3d27c39e2250e599b98cef27ab9f7a481d1f04",
  "894fb3604a6ee98d73d7367d52168504090d0045",
  "e397e1a6e14d2cca9d1035d0b35312f2cac9abc2",
  "257337a311f346dff2e588976d6312452e6c295f",
  "e8eb6ff201ebe6c933e598f193815d1d6d175c8c",
  "acf0615d2744196f2ee3f97676408089b5cce636",
  "5ba63ddf434269d2b95b5278c1ce81817b1c50bb",
  "43e1d2e26dbabcae49d7470e6ab4696ef1bb6c13",
  "a4a68413e76fd6f90002f287dfc8be664ddda3d0",
  "d38bc83fc409543eee8ec663a7edd402aa494503",
  "2d73b561c73b25cc5cda62decd7ee652dcc3d96a",
  "82436977137fbb568996c45e424969cd01cebebb",
  "b7a24ec988899b20aac29e1bb70cec63b6c463a3",
  "a82975324cf44864ec35ef2e6b3d41c9039243d2",
  "a82975324cf44864ec35ef2e6b3d41c9039243d2",
  "4e39b01769bcf4c8213dc7e01fd7579d7dabeabe",
];

test("the sample file's lines hash as they always have", async () => {
  const file = path.resolve(import.meta.dirname, "../../samples/nce-reconciliation-2024-06.csv");
  const source = await readLines(file, { batchSize: 7 });
  const hashes: string[] = [];
  for await (const batch of source.batches) for (const line of batch.lines) hashes.push(line.hash);
  assert.deepEqual(hashes, SAMPLE_HASHES);
});
