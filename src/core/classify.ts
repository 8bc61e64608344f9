import type { ChargeLine, Classification } from "./billing.ts";
import { daysInclusive } from "./dates.ts";
import { signOf } from "./money.ts";

/**
 * Puts every reconciliation line into exactly one billing motion. The rules read structured data only
 * (product identity, BillingFrequency, charge and term dates), never TermAndBillingCycle or other free text,
 * because Microsoft does not standardise those (docs/billing-data.md §5.4, §5.1).
 */

// A monthly term is at most 31 days; a yearly one is 365/366 days but co-terming and calendar alignment can
// shorten it to any length (docs/billing-data.md §5.1, custom term end dates). So a blank-frequency term
// longer than two months can only be a longer commitment paid up front.
const LONG_TERM_MIN_DAYS = 63;

// Partner Center's billing-cycle names for a single payment (SDK BillingCycleType `OneTime`, `None`,
// docs/billing-data.md §5.2): a file that spells the blank BillingFrequency out this way means the same
// thing.
const ONE_TIME_FREQUENCIES: ReadonlySet<string> = new Set(["onetime", "one-time", "one time", "none"]);

export function classifyLine(line: ChargeLine): Classification {
  const billable = !isZeroValueTrial(line);
  const trialNote = billable ? "" : "; zero-value trial line, not billable";
  const azure = azureReason(line);
  if (azure) return { motion: "azure", billable, reason: azure + trialNote };
  const annual = upfrontOrAnnualReason(line);
  if (annual) return { motion: "seat-annual", billable, reason: annual + trialNote };
  return { motion: "seat-monthly", billable, reason: monthlyReason(line) + trialNote };
}

function isZeroValueTrial(line: ChargeLine): boolean {
  const trial = line.productQualifiers.some((q) => q.trim().toLowerCase() === "trial");
  return trial && signOf(line.subtotal) === 0;
}

/**
 * Azure plan consumption (and Azure reservations/savings plans bought under the plan) comes from the Azure
 * catalog, whose product ids start with "DZH" (docs/billing-data.md §3.2 examples), and carries a meter
 * description (§3.2).
 */
function azureReason(line: ChargeLine): string | null {
  if (/^DZH/i.test(line.productId)) return `Azure catalog product ${line.productId}`;
  if (line.meterDescription) return "Azure meter line (MeterDescription present)";
  return null;
}

function upfrontOrAnnualReason(line: ChargeLine): string | null {
  const frequency = (line.billingFrequency ?? "").trim().toLowerCase();
  if (frequency === "annual" || frequency === "triennial" || frequency === "biennial") {
    return `BillingFrequency ${line.billingFrequency}: billed per year`;
  }
  if (frequency !== "" && !ONE_TIME_FREQUENCIES.has(frequency)) return null;
  // Blank BillingFrequency on billed data means a one-time payment for the whole term
  // (docs/billing-data.md §5.2, §5.1).
  if (!line.chargeEnd && !line.subscriptionEnd)
    return "one-time purchase without a term end (billed up front)";
  const termDays = termLengthDays(line);
  if (termDays !== null && termDays >= LONG_TERM_MIN_DAYS) {
    return `BillingFrequency blank with a ${termDays}-day term ${line.subscriptionStart}..${line.subscriptionEnd}: billed up front for the term`;
  }
  return null;
}

function monthlyReason(line: ChargeLine): string {
  if (line.billingFrequency) return `BillingFrequency ${line.billingFrequency}`;
  const termDays = termLengthDays(line);
  return termDays === null
    ? "no yearly billing signal"
    : `BillingFrequency blank with a ${termDays}-day term`;
}

function termLengthDays(line: ChargeLine): number | null {
  if (line.subscriptionStart && line.subscriptionEnd)
    return daysInclusive(line.subscriptionStart, line.subscriptionEnd);
  if (line.chargeEnd) return daysInclusive(line.chargeStart, line.chargeEnd);
  return null;
}
