import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DIALECTS } from "../support/stores.ts";
import { baseRow, toCsv } from "../support/recon-builder.ts";
import { startHarness, type Client, type Harness } from "./helpers.ts";

type ImportSummary = {
  file: string;
  status: string;
  newLines: number;
  invoices: string[];
  problem?: { row?: number; reason: string; message: string; hint?: unknown };
};
type ErrorReply = { error: { code: string; message: string; field?: string } };

/** A browser FormData upload: text fields first, then the file parts. */
function upload(fields: Record<string, string>, files: { name: string; content: string }[]) {
  const boundary = "----cspsync-delimiter-boundary-4f1c";
  let body = "";
  for (const [name, value] of Object.entries(fields))
    body += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  for (const file of files)
    body +=
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\n` +
      `Content-Type: text/csv\r\n\r\n${file.content}\r\n`;
  body += `--${boundary}--\r\n`;
  return {
    payload: Buffer.from(body),
    headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
  };
}

const SEMICOLONS = toCsv([baseRow({ InvoiceNumber: "G300000003" })], { delimiter: ";" });

for (const dialect of DIALECTS) {
  describe(`POST /api/imports with another separator (${dialect})`, () => {
    let h: Harness;
    let admin: Client;
    const post = async (fields: Record<string, string>, files: { name: string; content: string }[]) => {
      const { payload, headers } = upload(fields, files);
      return admin.request("POST", "/api/imports", payload, { headers });
    };

    before(async () => {
      h = await startHarness(dialect);
      admin = h.client();
      await admin.setup();
    });
    after(async () => h.cleanup());

    it("answers a semicolon file with the hint as data, and imports it when sent again with the delimiter field", async () => {
      const refused = await post({}, [{ name: "semicolons.csv", content: SEMICOLONS }]);
      assert.equal(refused.status, 200, refused.text);
      const [rejected] = (refused.body as { files: ImportSummary[] }).files;
      assert.equal(rejected!.status, "rejected");
      assert.equal(rejected!.problem?.row, 1);
      assert.deepEqual(rejected!.problem?.hint, { kind: "delimiter", detected: ";", expected: "," });
      assert.doesNotMatch(rejected!.problem!.message, /--delimiter/);

      const read = await post({ delimiter: "semicolon" }, [{ name: "semicolons.csv", content: SEMICOLONS }]);
      assert.equal(read.status, 200, read.text);
      const [imported] = (read.body as { files: ImportSummary[] }).files;
      assert.equal(imported!.status, "imported", imported!.problem?.message);
      assert.equal(imported!.newLines, 1);
      assert.deepEqual(imported!.invoices, ["G300000003"]);
    });

    it("takes the separator as its character too, and Automatic reads commas", async () => {
      const piped = toCsv([baseRow({ InvoiceNumber: "G300000004" })], { delimiter: "|" });
      const read = await post({ delimiter: "|" }, [{ name: "pipes.csv", content: piped }]);
      assert.deepEqual(
        (read.body as { files: ImportSummary[] }).files.map((f) => [f.status, f.invoices]),
        [["imported", ["G300000004"]]],
      );
      const commas = toCsv([baseRow({ InvoiceNumber: "G300000005" })]);
      const auto = await post({ delimiter: "auto" }, [{ name: "commas.csv", content: commas }]);
      assert.deepEqual(
        (auto.body as { files: ImportSummary[] }).files.map((f) => [f.status, f.invoices]),
        [["imported", ["G300000005"]]],
      );
    });

    it("refuses an unknown delimiter with 400 naming the field, importing nothing", async () => {
      const reply = await post({ delimiter: "colon" }, [{ name: "x.csv", content: SEMICOLONS }]);
      assert.equal(reply.status, 400);
      const error = (reply.body as ErrorReply).error;
      assert.deepEqual([error.code, error.field], ["validation", "delimiter"]);
      assert.match(error.message, /auto, comma, semicolon, tab or pipe/);
      const imports = ((await admin.get("/api/imports")).body as { imports: { fileName: string }[] }).imports;
      assert.ok(!imports.some((i) => i.fileName === "x.csv"));
    });
  });
}
