import type { BillingMotion } from "../core/billing.ts";
import type { PsaAdapter, PsaAgreement } from "./port.ts";

export type TargetCheckResult = { ok: true; agreement: PsaAgreement } | { ok: false; reason: string };

const NOT_FOUND: Record<PsaAdapter["vendor"], (id: string) => string> = {
  connectwise: (id) =>
    `ConnectWise agreement ${id} was not found for this company; it may have been deleted or moved.`,
  autotask: (id) => `Autotask contract ${id} was not found for this company; it may have been deleted.`,
};

/**
 * Re-reads a company's agreements/contracts and says whether lines of `motion` may be written to this one
 * now, with the adapter's own reason (and how to fix it) when not. The recurring motions' targets share it.
 */
export async function checkTargetFor(
  agreements: Pick<PsaAdapter, "vendor" | "listAgreements">,
  motion: BillingMotion,
  companyId: string,
  agreementId: string,
): Promise<TargetCheckResult> {
  const agreement = (await agreements.listAgreements(companyId)).find((a) => a.id === agreementId);
  if (!agreement) return { ok: false, reason: NOT_FOUND[agreements.vendor](agreementId) };
  const validity = agreement.validFor[motion];
  return validity.ok ? { ok: true, agreement } : { ok: false, reason: validity.reason };
}
