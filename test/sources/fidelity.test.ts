import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { ConfidentialClientApplication } from "@azure/msal-node";
import {
  Client,
  HTTPMessageHandler,
  ResponseType,
  RetryHandler,
  RetryHandlerOptions,
  type Context,
  type Middleware,
} from "@microsoft/microsoft-graph-client";
import {
  startPartnerCenterEmulator,
  type PartnerCenterEmulator,
} from "../../emulators/partner-center/index.ts";
import { createTokenProvider, GRAPH_SCOPE } from "../../src/sources/partner-center/token.ts";
import { SAMPLE } from "./support.ts";

/**
 * Fidelity: Microsoft's own clients, used as Microsoft documents them, work against the emulator —
 * @azure/msal-node for the token (its own network client, pointed at the emulator by authority metadata) and
 * @microsoft/microsoft-graph-client for the export, operation, manifest; then the blob with its SAS.
 */
describe("the Partner Center emulator with Microsoft's own clients", () => {
  let pc: PartnerCenterEmulator;
  before(async () => {
    pc = await startPartnerCenterEmulator({ files: [SAMPLE], linesPerBlob: 1000 });
  });
  after(async () => pc.close());

  function msal(): ConfidentialClientApplication {
    return new ConfidentialClientApplication({
      auth: {
        clientId: pc.clientId,
        clientSecret: pc.clientSecret,
        authority: `https://login.microsoftonline.com/${pc.tenantId}`,
        knownAuthorities: ["login.microsoftonline.com"],
        authorityMetadata: JSON.stringify({
          token_endpoint: `${pc.endpoints.login}/${pc.tenantId}/oauth2/v2.0/token`,
          issuer: `https://login.microsoftonline.com/${pc.tenantId}/v2.0`,
          authorization_endpoint: `${pc.endpoints.login}/${pc.tenantId}/oauth2/v2.0/authorize`,
          end_session_endpoint: `${pc.endpoints.login}/${pc.tenantId}/oauth2/v2.0/logout`,
          jwks_uri: `${pc.endpoints.login}/${pc.tenantId}/discovery/v2.0/keys`,
        }),
        cloudDiscoveryMetadata: JSON.stringify({
          tenant_discovery_endpoint: `https://login.microsoftonline.com/${pc.tenantId}/v2.0/.well-known/openid-configuration`,
          "api-version": "1.1",
          metadata: [
            {
              preferred_network: "login.microsoftonline.com",
              preferred_cache: "login.windows.net",
              aliases: ["login.microsoftonline.com"],
            },
          ],
        }),
      },
    });
  }

  it("msal-node gets a Graph token; the Graph client exports an invoice; the blob holds its lines", async () => {
    const result = await msal().acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
    assert.ok(result?.accessToken);
    // The SDK's AuthenticationHandler attaches tokens to https hosts only (Graph's own or customHosts), and
    // the emulator is plain http: the token is put on by a middleware of the chain instead, the SDK's
    // documented extension point; the SDK's retry and HTTP handlers do the rest.
    const token = result.accessToken;
    const bearer: Middleware & { next?: Middleware } = {
      async execute(context: Context) {
        const options = (context.options ??= {});
        options.headers = {
          ...(options.headers as Record<string, string>),
          Authorization: `Bearer ${token}`,
        };
        await bearer.next!.execute(context);
      },
      setNext(next: Middleware) {
        bearer.next = next;
      },
    };
    const retry = new RetryHandler(new RetryHandlerOptions(0, 3));
    bearer.setNext!(retry);
    retry.setNext(new HTTPMessageHandler());
    const client = Client.initWithMiddleware({
      middleware: bearer,
      baseUrl: `${pc.endpoints.graph}/`,
      defaultVersion: "v1.0",
    });
    const invoice = pc.invoices()[0]!;
    const accepted = (await client
      .api("/reports/partners/billing/reconciliation/billed/export")
      .responseType(ResponseType.RAW)
      .post({ invoiceId: invoice.id, attributeSet: "full" })) as Response;
    assert.equal(accepted.status, 202);
    // Absolute links are written for https hosts; against the http emulator they are given as paths.
    const relative = (link: string) => link.slice(`${pc.endpoints.graph}/v1.0`.length);
    const location = relative(accepted.headers.get("location")!);
    let operation: { status: string; "resourceLocation@odata.navigationLink"?: string };
    do operation = await client.api(location).get();
    while (operation.status === "running");
    assert.equal(operation.status, "succeeded");
    const manifest = await client.api(relative(operation["resourceLocation@odata.navigationLink"]!)).get();
    assert.equal(manifest.blobCount, 1);
    const blob = await fetch(`${manifest.rootDirectory}/${manifest.blobs[0].name}?${manifest.sasToken}`);
    assert.equal(blob.status, 200);
    const lines = gunzipSync(Buffer.from(await blob.arrayBuffer()))
      .toString("utf8")
      .trim()
      .split("\n");
    assert.equal(lines.length, invoice.lineCount);
    assert.equal(JSON.parse(lines[0]!).invoiceNumber, invoice.id);
  });

  it("a certificate credential: msal signs the client assertion, the emulator checks it with the certificate", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const publicPem = publicKey.export({ type: "spki", format: "pem" }).toString();
    const certEmulator = await startPartnerCenterEmulator({
      apps: [{ clientId: pc.clientId, certificatePem: publicPem }],
    });
    try {
      const tokens = createTokenProvider({
        tenantId: certEmulator.tenantId,
        clientId: certEmulator.clientId,
        credential: {
          kind: "certificate",
          privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
          thumbprintSha256: createHash("sha256").update(publicPem).digest("hex"),
        },
        loginBase: certEmulator.endpoints.login,
        http: { allowedHosts: [new URL(certEmulator.url).host] },
      });
      assert.match(await tokens.token(GRAPH_SCOPE), /^emu\./);
      const [request] = certEmulator.requestLog();
      assert.equal(request?.status, 200);
    } finally {
      await certEmulator.close();
    }
  });
});
