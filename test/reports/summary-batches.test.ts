import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Dec, roundMoney } from "../../src/core/money.ts";
import type { ReportLine } from "../../src/core/reconciliation-report.ts";
import { ReportsService } from "../../src/services/reports.ts";
import { reportScenario, type ReportScenario } from "../support/report-setup.ts";
import { DIALECTS } from "../support/stores.ts";
import { CONTOSO, FABRIKAM } from "./fixture.ts";

/** Sums of lines as the summary shows them (cents, half away from zero), per currency. */
function sums(lines: readonly ReportLine[]) {
  const by = new Map<string, { cost: Dec; billed: Dec; margin: Dec; notBilled: Dec; lines: number }>();
  for (const l of lines) {
    const s = by.get(l.currency) ?? {
      cost: new Dec(0),
      billed: new Dec(0),
      margin: new Dec(0),
      notBilled: new Dec(0),
      lines: 0,
    };
    s.cost = s.cost.plus(l.cost);
    if (l.billedPrice !== null) s.billed = s.billed.plus(l.billedPrice);
    if (l.margin !== null) s.margin = s.margin.plus(l.margin);
    s.notBilled = s.notBilled.plus(l.notBilled);
    s.lines += 1;
    by.set(l.currency, s);
  }
  return [...by]
    .map(([currency, s]) => ({
      currency,
      cost: roundMoney(s.cost),
      billed: roundMoney(s.billed),
      margin: roundMoney(s.margin),
      notBilled: roundMoney(s.notBilled),
      lines: s.lines,
    }))
    .sort((a, b) => a.currency.localeCompare(b.currency));
}

for (const dialect of DIALECTS) {
  describe(`report summary of a multi-customer invoice, however its writes are batched (${dialect})`, () => {
    let s: ReportScenario;

    before(async () => {
      s = await reportScenario(dialect);
    });
    after(async () => {
      await s?.cleanup();
    });

    const service = (writeBatchCustomers?: number) =>
      new ReportsService({
        store: s.app.store,
        organizationId: s.app.organizationId,
        adapterFor: s.app.adapterFor,
        writeBatchCustomers,
      });

    it("one customer's writes at a time gives the summary of all at once, the sums of the drill-downs and the trend's totals", async () => {
      for (const invoice of ["G-JUN", "G-JUL"]) {
        const options = { invoice, readBack: false };
        const whole = await service().summary(options);
        const oneByOne = await service(1).summary(options);
        assert.deepEqual(oneByOne, whole, invoice);
        // Two customers bill this invoice: each drill-down's lines, summed, give the summary's totals.
        const tenants = [CONTOSO.id, FABRIKAM.id];
        const drilled: ReportLine[] = [];
        for (const customer of tenants) {
          const page = await service(1).lines({ ...options, customer }, {}, 0, 1000);
          assert.equal(page.total, page.lines.length);
          drilled.push(...page.lines);
        }
        assert.ok(new Set(drilled.map((l) => l.customerTenantId)).size > 1, `${invoice}: several customers`);
        assert.deepEqual(
          sums(drilled),
          whole.totals
            .map((t) => ({
              currency: t.currency,
              cost: t.cost,
              billed: t.billed,
              margin: t.margin,
              notBilled: t.notBilled,
              lines: t.lines,
            }))
            .sort((a, b) => a.currency.localeCompare(b.currency)),
          invoice,
        );
        // The trend sums the totals alone (no customer × motion groups): the same figures.
        const point = (await service().trend()).filter((p) => p.invoiceNumber === invoice);
        assert.deepEqual(
          point.map((p) => [p.currency, p.cost, p.billed, p.margin, p.notBilled]),
          whole.totals.map((t) => [t.currency, t.cost, t.billed, t.margin, t.notBilled]),
          `${invoice} trend`,
        );
        // Per customer, the summary's ranking holds the same figures as that customer's lines.
        for (const customer of whole.customers) {
          const mine = drilled.filter((l) => l.customerTenantId === customer.customerTenantId);
          const [own] = sums(mine);
          assert.deepEqual(
            [customer.cost, customer.billed, customer.notBilled, customer.lines],
            [own!.cost, own!.billed, own!.notBilled, own!.lines],
            `${invoice} ${customer.customerName}`,
          );
        }
      }
    });
  });
}
