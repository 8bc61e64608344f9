import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { autotaskContractLink, connectWiseAgreementLink } from "../../src/services/psa-links.ts";

describe("links to PSA records are built from the connection's own host", () => {
  it("ConnectWise: the configured site, or the region's own host for a cloud API host", () => {
    assert.equal(
      connectWiseAgreementLink({ site: "https://psa.example.com:8443/some/path" }, "42"),
      "https://psa.example.com:8443/v4_6_release/services/system_io/router/openrecord.rails?recordType=AgreementFV&recid=42",
    );
    assert.equal(
      connectWiseAgreementLink({ site: "https://api-eu.myconnectwise.net" }, "7"),
      "https://eu.myconnectwise.net/v4_6_release/services/system_io/router/openrecord.rails?recordType=AgreementFV&recid=7",
    );
    assert.equal(connectWiseAgreementLink({}, "7"), null);
    assert.equal(connectWiseAgreementLink({ site: "not a url" }, "7"), null);
  });

  it("Autotask: only from a configured discovery host; the id is encoded", () => {
    assert.equal(
      autotaskContractLink({ discoveryUrl: "https://zone.example.net/atservicesrest/" }, "a/b"),
      "https://zone.example.net/Mvc/Contracts/ContractDetail.mvc?contractId=a%2Fb",
    );
    assert.equal(autotaskContractLink({}, "1"), null);
  });
});
