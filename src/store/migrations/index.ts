import { foundation } from "./0001_foundation.ts";
import { sync } from "./0002_sync.ts";
import { auth } from "./0003_auth.ts";
import { jobs } from "./0004_jobs.ts";
import { products } from "./0005_products.ts";
import { pricing } from "./0007_pricing.ts";
import { monthlyStart } from "./0008_monthly_start.ts";
import { productRuns } from "./0009_product_runs.ts";
import { lineEvents } from "./0010_line_events.ts";
import { tokenOwners } from "./0011_token_owners.ts";
import { writeInFlight } from "./0012_write_in_flight.ts";
import { priceLists } from "./0013_price_lists.ts";
import { productRunLock } from "./0014_product_run_lock.ts";
import { sources } from "./0015_sources.ts";
import { reports } from "./0017_reports.ts";
import { notifications } from "./0016_notifications.ts";
import { appendLines } from "./0018_append_lines.ts";
import { fetchLinks } from "./0019_fetch_links.ts";
import { renewalReminders } from "./0020_renewal_reminders.ts";
import { lineSourceBlocks } from "./0021_line_source_blocks.ts";
import { lineKeyBlocks } from "./0022_line_key_blocks.ts";
import type { CspsyncMigration } from "./types.ts";

/** Every migration, oldest first. Names sort in this order; never rename or reorder a shipped one. */
export const migrations: readonly CspsyncMigration[] = [
  foundation,
  sync,
  auth,
  jobs,
  products,
  pricing,
  monthlyStart,
  productRuns,
  lineEvents,
  tokenOwners,
  writeInFlight,
  priceLists,
  productRunLock,
  sources,
  notifications,
  reports,
  appendLines,
  fetchLinks,
  renewalReminders,
  lineSourceBlocks,
  lineKeyBlocks,
];
