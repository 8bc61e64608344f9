import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Harness } from "./support.ts";
import { API, CLIENT_ID, rawRequest, startHarness } from "./support.ts";

type Json = Record<string, unknown>;
const conditions = (text: string): string => `conditions=${encodeURIComponent(text)}`;

describe("ConnectWise emulator wire behaviour (docs/connectwise.md §11 checklist)", () => {
  let harness: Harness;
  const get = (path: string, headers: Record<string, string> = {}) =>
    rawRequest(harness.emulator, "GET", path, { headers });
  const send = (method: string, path: string, body: unknown) =>
    rawRequest(harness.emulator, method, path, { body });
  before(async () => {
    harness = await startHarness();
  });
  after(() => harness.close());

  describe("docs/connectwise.md §2 and §3: discovery, auth and headers", () => {
    it("docs/connectwise.md §2 companyinfo needs no auth, uses PascalCase with IsCloud as a string, and answers null for an unknown company", async () => {
      const known = await rawRequest(harness.emulator, "GET", "/login/companyinfo/CSPSYNCDEMO", {
        auth: false,
      });
      assert.equal(known.status, 200);
      assert.deepEqual(known.body, {
        CompanyName: "cspsync Demo MSP",
        Codebase: "v2025_1/",
        VersionCode: "v2025.1",
        VersionNumber: "v4.6.99999",
        CompanyID: "cspsyncdemo",
        IsCloud: "True",
      });
      const unknown = await rawRequest(harness.emulator, "GET", "/login/companyinfo/other", { auth: false });
      assert.equal(unknown.status, 200);
      assert.equal(unknown.text, "null");
    });

    it("docs/connectwise.md §2 accepts v4_6_release and versioned codebases, and 404s anything else", async () => {
      assert.equal((await get(`${API}/system/info`)).status, 200);
      assert.equal((await get("/v2019_3/apis/3.0/system/info")).status, 200);
      const bad = await get("/release/apis/3.0/system/info");
      assert.equal(bad.status, 404);
      assert.equal((bad.body as Json).code, "NotFound");
    });

    it("docs/connectwise.md §3 without a clientId, or with bad keys, the answer is 401 Unauthorized", async () => {
      const noClientId = await rawRequest(harness.emulator, "GET", `${API}/system/info`, {
        auth: false,
        headers: {
          authorization:
            "Basic " + Buffer.from("cspsyncdemo+demo-public-key:demo-private-key").toString("base64"),
        },
      });
      assert.equal(noClientId.status, 401);
      assert.deepEqual(noClientId.body, {
        code: "Unauthorized",
        message: "A clientId header is required.",
        errors: null,
      });
      const badKey = await rawRequest(harness.emulator, "GET", `${API}/system/info`, {
        auth: false,
        headers: {
          clientid: CLIENT_ID,
          authorization: "Basic " + Buffer.from("cspsyncdemo+demo-public-key:nope").toString("base64"),
        },
      });
      assert.equal(badKey.status, 401);
      assert.equal((badKey.body as Json).code, "Unauthorized");
      harness.emulator.switches.authErrorStyle = "UserNotAuthenticated";
      try {
        const variant = await rawRequest(harness.emulator, "GET", `${API}/system/info`, {
          auth: false,
          headers: { clientid: CLIENT_ID },
        });
        assert.deepEqual(variant.body, {
          code: "ConnectWiseApi",
          message: "UserNotAuthenticated",
          errors: null,
        });
      } finally {
        harness.emulator.switches.authErrorStyle = "Unauthorized";
      }
    });

    it("docs/connectwise.md §3 replies carry api-current-version and x-cw-request-id", async () => {
      const response = await get(`${API}/system/info`, {
        accept: "application/vnd.connectwise.com+json; version=2019.1",
      });
      assert.equal(response.headers.get("api-current-version"), "2025.8");
      assert.match(response.headers.get("x-cw-request-id") ?? "", /^[0-9a-f-]{36}$/);
      assert.equal(response.headers.get("cache-control"), "no-cache");
    });
  });

  describe("docs/connectwise.md §4 and §5: shapes, fields, ordering and paging", () => {
    it("docs/connectwise.md §4 references are expanded with _info hrefs; entities carry _info lastUpdated/updatedBy and customFields", async () => {
      const response = await get(`${API}/finance/agreements/1`);
      const agreement = response.body as Json;
      assert.deepEqual(agreement.company, {
        id: 2,
        identifier: "ContosoDental",
        name: "Contoso Dental Group",
        _info: { company_href: `${harness.emulator.url}${API}/company/companies/2` },
      });
      assert.deepEqual(agreement.contact, {
        id: 1,
        name: "Maria Lopez",
        _info: { contact_href: `${harness.emulator.url}${API}/company/contacts/1` },
      });
      assert.deepEqual(agreement._info, { lastUpdated: "2024-01-02T09:00:00Z", updatedBy: "admin1" });
      assert.deepEqual(agreement.customFields, []);
      assert.equal(agreement.agreementStatus, "Active");
    });

    it("docs/connectwise.md §5.2 fields keeps only the named fields, nested picks keeping their parent", async () => {
      const response = await get(`${API}/finance/agreements?fields=id,name,company/identifier&pageSize=2`);
      assert.deepEqual(response.body, [
        { id: 1, name: "Microsoft CSP - Contoso Dental Group", company: { identifier: "ContosoDental" } },
        {
          id: 2,
          name: "Microsoft CSP Annual - Contoso Dental Group",
          company: { identifier: "ContosoDental" },
        },
      ]);
      assert.equal((await get(`${API}/finance/agreements?fields=nosuch`)).status, 400);
    });

    it("docs/connectwise.md §5.2 orderBy sorts by one or several keys, asc or desc", async () => {
      const response = await get(
        `${API}/finance/agreements?fields=id,company/id&orderBy=${encodeURIComponent("company/id desc, id asc")}&pageSize=4`,
      );
      assert.deepEqual(
        (response.body as Json[]).map((row) => row.id),
        [27, 28, 24, 25],
      );
      assert.equal((await get(`${API}/finance/agreements?orderBy=nosuch%20asc`)).status, 400);
    });

    it("docs/connectwise.md §5.3 the Link header has first/prev/next/last; a page past the end is []", async () => {
      const middle = await get(`${API}/company/companies?pageSize=5&page=2&fields=id`);
      const links = middle.headers.get("link") ?? "";
      const relations = [...links.matchAll(/<[^>]*[?&]page=(\d+)[^>]*>; rel="(\w+)"/g)].map(
        (match) => `${match[2]}=${match[1]}`,
      );
      assert.deepEqual(relations, ["first=1", "prev=1", "next=3", "last=3"]);
      const first = await get(`${API}/company/companies?pageSize=5&fields=id`);
      assert.doesNotMatch(first.headers.get("link") ?? "", /rel="(first|prev)"/);
      const past = await get(`${API}/company/companies?pageSize=5&page=9`);
      assert.deepEqual(past.body, []);
      assert.match(past.headers.get("link") ?? "", /page=3>; rel="last"/);
    });

    it("docs/connectwise.md §5.2 pageSize defaults to 25 and is capped at 1000 (or rejected with the switch off)", async () => {
      assert.equal(((await get(`${API}/finance/agreements?fields=id`)).body as Json[]).length, 25);
      const capped = await get(`${API}/company/companies?pageSize=5000&fields=id`);
      assert.equal(capped.status, 200);
      assert.match(capped.headers.get("link") ?? "", /pageSize=1000/);
      harness.emulator.switches.capPageSize = false;
      try {
        assert.equal((await get(`${API}/company/companies?pageSize=5000`)).status, 400);
      } finally {
        harness.emulator.switches.capPageSize = true;
      }
      assert.equal((await get(`${API}/company/companies?page=0`)).status, 400);
    });

    it("docs/connectwise.md §5.3 forward-only ignores page, rejects orderBy, uses pageId as id > N and ends with an empty Link", async () => {
      const forward = { "pagination-type": "forward-only" };
      const first = await get(`${API}/company/companies?pageSize=6&page=3&fields=id`, forward);
      assert.deepEqual(
        (first.body as Json[]).map((row) => row.id),
        [1, 2, 3, 4, 5, 6],
      );
      assert.match(first.headers.get("link") ?? "", /^<[^>]*pageId=6[^>]*>; rel="next"$/);
      const last = await get(`${API}/company/companies?pageSize=6&pageId=12&fields=id`, forward);
      assert.deepEqual(
        (last.body as Json[]).map((row) => row.id),
        [13],
      );
      assert.equal(last.headers.get("link"), "");
      const ordered = await get(`${API}/company/companies?orderBy=name%20asc`, forward);
      assert.equal(ordered.status, 400);
    });

    it("docs/connectwise.md §5.3 /count applies conditions; §5.1 a bad condition is a 400 with the server's text", async () => {
      const count = await get(`${API}/finance/agreements/count?${conditions("cancelledFlag = true")}`);
      assert.deepEqual(count.body, { count: 2 });
      const bad = await get(`${API}/finance/agreements/count?${conditions("cancelledFlag = 1")}`);
      assert.equal(bad.status, 400);
      assert.equal((bad.body as Json).code, "InvalidObject");
      assert.match(String((bad.body as Json).message), /^Expected a boolean value, not a numeric\./);
    });

    it("docs/connectwise.md §5.2 customFieldConditions match records by caption and value", async () => {
      await send("PATCH", `${API}/company/companies/3`, [
        {
          op: "replace",
          path: "customFields",
          value: [{ id: 1, caption: "CSP Tenant", type: "Text", value: "fabrikam.onmicrosoft.com" }],
        },
      ]);
      const response = await get(
        `${API}/company/companies?fields=id&customFieldConditions=${encodeURIComponent('caption = "CSP Tenant" and value like "fabrikam*"')}`,
      );
      assert.deepEqual(response.body, [{ id: 3 }]);
    });
  });

  describe("docs/connectwise.md §6 and §9: writes, errors and validation", () => {
    it("docs/connectwise.md §7.2 POST without required fields is 400 InvalidObject with one MissingRequiredField per field", async () => {
      const response = await send("POST", `${API}/finance/agreements/1/additions`, { quantity: 2 });
      assert.equal(response.status, 400);
      assert.deepEqual(response.body, {
        code: "InvalidObject",
        message: "addition object is invalid",
        errors: [
          {
            code: "MissingRequiredField",
            message: "product is required.",
            resource: "addition",
            field: "product",
          },
          {
            code: "MissingRequiredField",
            message: "billCustomer is required.",
            resource: "addition",
            field: "billCustomer",
          },
        ],
      });
    });

    it("docs/connectwise.md §7.2 404 bodies name the entity and id; an unknown parent agreement is a 404 too", async () => {
      const missing = await get(`${API}/procurement/catalog/999`);
      assert.deepEqual(missing.body, {
        code: "NotFound",
        message: "CatalogItem recordId 999 not found.",
        errors: null,
      });
      const parent = await get(`${API}/finance/agreements/999/additions`);
      assert.equal(parent.status, 404);
      assert.equal((parent.body as Json).message, "Agreement recordId 999 not found.");
    });

    it("docs/connectwise.md §7.1 a method a path does not support is 405; malformed JSON is 400", async () => {
      assert.equal((await send("PATCH", `${API}/finance/agreements`, [])).status, 405);
      const malformed = await send("POST", `${API}/company/companies`, "{not json");
      assert.equal(malformed.status, 400);
    });

    it("docs/connectwise.md §11 computes billedQuantity, extPrice, extCost, margin and sequenceNumber; defaults from the catalog", async () => {
      const body = {
        product: { id: 4 },
        billCustomer: "Billable",
        quantity: 12,
        lessIncluded: 2,
        effectiveDate: "2025-02-01T00:00:00Z",
      };
      const first = (await send("POST", `${API}/finance/agreements/3/additions`, body)).body as Json;
      assert.deepEqual(
        [
          first.unitPrice,
          first.unitCost,
          first.description,
          first.billedQuantity,
          first.extPrice,
          first.extCost,
          first.margin,
        ],
        [43.2, 36, "Microsoft 365 E3", 10, 432, 360, 72],
      );
      assert.equal(first.sequenceNumber, 1);
      const floored = (
        await send("POST", `${API}/finance/agreements/3/additions`, { ...body, quantity: 1, lessIncluded: 5 })
      ).body as Json;
      assert.equal(floored.billedQuantity, 0);
      assert.equal(floored.sequenceNumber, 2);
      assert.equal(floored.uom, "Each");
    });

    it("docs/connectwise.md §4 a product given by identifier resolves, unless the switch says the server refuses it", async () => {
      const body = {
        product: { identifier: "EXO-P1" },
        billCustomer: "NoCharge",
        quantity: 1,
        effectiveDate: "2025-02-01T00:00:00Z",
      };
      const created = await send("POST", `${API}/finance/agreements/3/additions`, body);
      assert.equal(created.status, 201);
      assert.equal(((created.body as Json).product as Json).id, 8);
      harness.emulator.switches.resolveProductByIdentifier = false;
      try {
        const refused = await send("POST", `${API}/finance/agreements/3/additions`, body);
        assert.equal(refused.status, 400);
        assert.equal(((refused.body as Json).errors as Json[])[0]?.field, "product");
      } finally {
        harness.emulator.switches.resolveProductByIdentifier = true;
      }
    });

    it("docs/connectwise.md §6 PATCH accepts a leading slash (switchable), ignores nested paths with a misleading 200, rejects unknown fields", async () => {
      const path = `${API}/company/companies/4`;
      const slash = await send("PATCH", path, [{ op: "replace", path: "/phoneNumber", value: "555-9999" }]);
      assert.equal((slash.body as Json).phoneNumber, "555-9999");
      const nested = await send("PATCH", path, [{ op: "replace", path: "status/name", value: "Gone" }]);
      assert.equal(nested.status, 200);
      assert.deepEqual(((nested.body as Json).status as Json).name, "Active");
      const unknown = await send("PATCH", path, [{ op: "replace", path: "nosuch", value: 1 }]);
      assert.equal(unknown.status, 400);
      const removed = await send("PATCH", path, [{ op: "remove", path: "faxNumber" }]);
      assert.equal((removed.body as Json).faxNumber, null);
      harness.emulator.switches.patchPathLeadingSlash = false;
      try {
        assert.equal((await send("PATCH", path, [{ op: "replace", path: "/city", value: "X" }])).status, 400);
      } finally {
        harness.emulator.switches.patchPathLeadingSlash = true;
      }
      assert.equal((await send("PATCH", path, { op: "replace" })).status, 400);
    });

    it("docs/connectwise.md §11 every write updates _info.lastUpdated and updatedBy", async () => {
      const patched = (
        await send("PATCH", `${API}/company/companies/5`, [{ op: "replace", path: "city", value: "Redmond" }])
      ).body as Json;
      assert.deepEqual(patched._info, { lastUpdated: "2025-03-15T12:00:00Z", updatedBy: "APIMember" });
    });

    it("docs/connectwise.md §9.2 PUT replaces and requires the Required On Updates fields", async () => {
      const current = (await get(`${API}/finance/agreements/8`)).body as Json;
      const { employeeCompRate: _dropped, ...withoutRate } = current;
      const refused = await send("PUT", `${API}/finance/agreements/8`, withoutRate);
      assert.equal(refused.status, 400);
      assert.deepEqual(
        ((refused.body as Json).errors as Json[]).map((entry) => [entry.code, entry.field]),
        [["MissingRequiredField", "employeeCompRate"]],
      );
      const replaced = await send("PUT", `${API}/finance/agreements/8`, {
        ...current,
        internalNotes: "replaced",
      });
      assert.equal(replaced.status, 200);
      assert.equal((replaced.body as Json).internalNotes, "replaced");
    });

    it("docs/connectwise.md §6 DELETE is 204; §7.1 deleting an agreement that has additions is 409", async () => {
      const created = (
        await send("POST", `${API}/finance/agreements/5/additions`, {
          product: { id: 1 },
          billCustomer: "Billable",
          quantity: 1,
          effectiveDate: "2025-01-01T00:00:00Z",
        })
      ).body as Json;
      assert.equal((await send("DELETE", `${API}/finance/agreements/5`, undefined)).status, 409);
      assert.equal(
        (await send("DELETE", `${API}/finance/agreements/5/additions/${created.id}`, undefined)).status,
        204,
      );
      assert.equal((await get(`${API}/finance/agreements/5/additions/${created.id}`)).status, 404);
    });

    it("docs/connectwise.md §9.8 a company needs an address field and a unique identifier", async () => {
      const noAddress = await send("POST", `${API}/company/companies`, {
        identifier: "NewCo",
        name: "New Co",
      });
      assert.equal(((noAddress.body as Json).errors as Json[])[0]?.field, "addressLine1");
      const duplicate = await send("POST", `${API}/company/companies`, {
        identifier: "contosodental",
        name: "Dup",
        city: "X",
      });
      assert.equal(((duplicate.body as Json).errors as Json[])[0]?.code, "ObjectExists");
      const created = await send("POST", `${API}/company/companies`, {
        identifier: "NewCo",
        name: "New Co",
        city: "Reno",
      });
      assert.equal(created.status, 201);
      assert.equal((created.body as Json).id, 14);
    });

    it("docs/connectwise.md §10 additions on an expired agreement are accepted by default and rejected with the switch on", async () => {
      const expired = 7;
      const body = {
        product: { id: 1 },
        billCustomer: "Billable",
        quantity: 1,
        effectiveDate: "2023-06-01T00:00:00Z",
      };
      const accepted = await send("POST", `${API}/finance/agreements/${expired}/additions`, body);
      assert.equal(accepted.status, 201);
      assert.equal((accepted.body as Json).agreementStatus, "Expired");
      harness.emulator.switches.rejectAdditionsOnExpiredAgreement = true;
      try {
        const refused = await send("POST", `${API}/finance/agreements/${expired}/additions`, body);
        assert.equal(((refused.body as Json).errors as Json[])[0]?.field, "agreementId");
      } finally {
        harness.emulator.switches.rejectAdditionsOnExpiredAgreement = false;
      }
    });

    it("docs/connectwise.md §10 a cancelledDate before the effectiveDate is rejected", async () => {
      const response = await send("POST", `${API}/finance/agreements/3/additions`, {
        product: { id: 1 },
        billCustomer: "Billable",
        quantity: 1,
        effectiveDate: "2025-02-01T00:00:00Z",
        cancelledDate: "2025-01-31T00:00:00Z",
      });
      assert.equal(((response.body as Json).errors as Json[])[0]?.field, "cancelledDate");
    });
  });
});
