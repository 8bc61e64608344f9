import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startAutotaskEmulator, type AutotaskEmulator } from "../../emulators/autotask/index.ts";
import { startConnectWiseEmulator, type ConnectWiseEmulator } from "../../emulators/connectwise/index.ts";
import { hostOf } from "../support/app.ts";
import { startHarness, type Client, type Harness } from "./helpers.ts";

/**
 * The PSA settings pick billing codes, products, vendors, subcategories and product types by name from lists
 * the PSA serves (here its emulators, over real HTTP), and PSA failures reach the web as sentences for
 * people with the technical account apart in `detail`.
 */
type Option = { id: string; name: string; detail?: string };
type ErrorReply = { error: { code: string; message: string; field?: string; detail?: string } };
const errorOf = (body: unknown) => (body as ErrorReply).error;

describe("PSA pick lists and PSA errors told for people", () => {
  let at: AutotaskEmulator;
  let cw: ConnectWiseEmulator;
  let h: Harness;
  let admin: Client;
  let atId: string;
  let cwId: string;
  const options = async (connectionId: string, kind: string, q = ""): Promise<Option[]> => {
    const reply = await admin.get(
      `/api/connections/${connectionId}/psa/options/${kind}?q=${encodeURIComponent(q)}`,
    );
    assert.equal(reply.status, 200, reply.text);
    return (reply.body as { options: Option[] }).options;
  };

  before(async () => {
    at = await startAutotaskEmulator({ seed: "demo" });
    cw = await startConnectWiseEmulator({ seed: "demo" });
    h = await startHarness("sqlite", { allowedHosts: [hostOf(at.url), hostOf(cw.url)] });
    admin = h.client();
    assert.equal((await admin.setup()).status, 200);
    const user = at.users[0]!;
    const autotask = await admin.post("/api/connections", {
      vendor: "autotask",
      name: "AT",
      config: { username: user.userName, discoveryUrl: at.apiBaseUrl },
      secrets: { secret: user.secret, integrationCode: user.integrationCode },
    });
    assert.equal(autotask.status, 201, autotask.text);
    atId = (autotask.body as { connection: { id: string } }).connection.id;
    const created = await admin.post("/api/connections", {
      vendor: "connectwise",
      name: "CW",
      config: {
        site: cw.url,
        companyId: cw.credentials.companyId,
        publicKey: cw.credentials.publicKey,
        clientId: "00000000-0000-4000-8000-00000000c11e",
      },
      secrets: { privateKey: cw.credentials.privateKey },
    });
    assert.equal(created.status, 201, created.text);
    cwId = (created.body as { connection: { id: string } }).connection.id;
  });
  after(async () => {
    await h.cleanup();
    await at.close();
    await cw.close();
  });

  it("Autotask: billing codes with their use type, active products, and vendor companies only", async () => {
    const codes = await options(atId, "billing-codes");
    const licences = codes.find((c) => c.name === "Software Licences");
    assert.deepEqual([licences?.name, licences?.detail], ["Software Licences", "General Billing Code"]);
    assert.match(licences?.id ?? "", /^\d+$/);
    assert.ok(!codes.some((c) => c.name === "Legacy Hosting"), "inactive codes are not offered");
    assert.deepEqual(
      (await options(atId, "billing-codes", "software")).map((c) => c.name),
      ["Software Licences"],
    );
    const vendors = await options(atId, "vendors");
    assert.ok(vendors.some((v) => v.name === "Microsoft Corporation"));
    assert.ok(!vendors.some((v) => v.name === "Greenfield Solar"), "a prospect is not a vendor");
    const products = await options(atId, "products");
    assert.ok(products.length > 0);
    assert.deepEqual(
      [...products].sort((a, b) => a.name.localeCompare(b.name)).map((p) => p.name),
      products.map((p) => p.name),
      "sorted by name",
    );
    const wrongKind = await admin.get(`/api/connections/${atId}/psa/options/subcategories`);
    assert.deepEqual([wrongKind.status, errorOf(wrongKind.body).field], [422, "kind"]);
    assert.equal((await admin.get(`/api/connections/${atId}/psa/options/colours`)).status, 400);
  });

  it("ConnectWise: product subcategories and types by name", async () => {
    const types = await options(cwId, "product-types");
    assert.ok(types.some((t) => t.name === "Software Licensing"));
    assert.deepEqual(
      (await options(cwId, "product-types", "licens")).map((t) => t.name),
      ["Software Licensing"],
    );
    const subcategories = await options(cwId, "subcategories");
    assert.ok(subcategories.length > 0 && subcategories.every((s) => /^\d+$/.test(s.id)));
    const wrongKind = await admin.get(`/api/connections/${cwId}/psa/options/vendors`);
    assert.equal(wrongKind.status, 422);
  });

  it("a 401 from ConnectWise arrives as a sentence that says what to check, the request in detail", async () => {
    await admin.patch(`/api/connections/${cwId}`, { secrets: { privateKey: "not-the-private-key" } });
    const reply = await admin.get(`/api/connections/${cwId}/psa/options/product-types`);
    assert.equal(reply.status, 502);
    const error = errorOf(reply.body);
    assert.equal(error.code, "psa_error");
    assert.match(
      error.message,
      /^ConnectWise refused the credentials \(401\): check the company id, public key and private key/,
    );
    assert.doesNotMatch(error.message, /GET|https?:/, "no transport text in the sentence");
    assert.match(error.detail ?? "", /connectwise GET .* HTTP 401/);
    // The connection test words its own checks; it says the same thing.
    const test = await admin.post(`/api/connections/${cwId}/test`);
    const result = test.body as { ok: boolean; message: string };
    assert.equal(result.ok, false);
    assert.match(result.message, /ConnectWise .* the credentials \(401\)/);
    await admin.patch(`/api/connections/${cwId}`, { secrets: { privateKey: cw.credentials.privateKey } });
  });

  it("an Autotask that cannot be reached is named with its host, the reason in words", async () => {
    at.server.addFaults({ kind: "drop-connection" });
    try {
      const reply = await admin.get(`/api/connections/${atId}/psa/options/billing-codes`);
      assert.equal(reply.status, 502);
      const error = errorOf(reply.body);
      assert.match(
        error.message,
        new RegExp(`^Autotask could not be reached at ${hostOf(at.url).replace(/\./g, "\\.")}: `),
      );
      assert.ok(error.detail && error.detail !== error.message);
    } finally {
      at.server.clearFaults();
    }
  });
});
