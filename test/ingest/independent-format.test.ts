import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { importReconFile } from "../../src/services/import-recon.ts";
import type { Store } from "../../src/store/db.ts";
import { createTestStore } from "../support/stores.ts";
import { lineSourceRecord } from "../../src/store/billing-repository.ts";

/**
 * Independent check of the importer against reconciliation files written by hand from
 * docs/billing-data.md (§3 columns and quirks, §4 charge types, §6 money, §7 and §9 motions, §8 identity),
 * not from the shared test scenarios. Rows transcribe the documented examples (Microsoft docs, CC BY 4.0):
 * the 10.08 monthly seat with its +2 seat pair, the 120.96 annual-upfront purchase, Power BI Premium Per User
 * with a promotion and the price-adjustment array, Azure Tables meter rows, a trial add-on.
 */

const MAIN_CSV_LINES = [
  // header (documented variants MPNID, Tier2MpnId, ReferenceID, PromotionID; extra DistributorNotes)
  "PartnerId,CustomerId,CustomerName,CustomerDomainName,CustomerCountry,InvoiceNumber,MPNID,Tier2MpnId,OrderId,OrderDate,ProductId,SkuId,AvailabilityId,SkuName,ProductName,ChargeType,UnitPrice,Quantity,Subtotal,TaxTotal,Total,Currency,PriceAdjustmentDescription,PublisherName,PublisherId,SubscriptionDescription,SubscriptionId,ChargeStartDate,ChargeEndDate,TermAndBillingCycle,EffectiveUnitPrice,UnitType,AlternateId,BillableQuantity,BillingFrequency,PricingCurrency,PCToBCExchangeRate,PCToBCExchangeRateDate,MeterDescription,ReservationOrderId,CreditReasonCode,SubscriptionStartDate,SubscriptionEndDate,ReferenceID,ProductQualifiers,PromotionID,ProductCategory,DistributorNotes",
  // row 2
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,6dc5c039750a,6/18/2024 6:30:06 PM,CFQ7TTC0LH18,0001,CFQ7TTC0K59R,Microsoft 365 Business Basic,Microsoft 365 Business Basic,New,10.08,10,100.80,0,100.80,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000001,6/18/2024,7/17/2024,One-Month commitment for monthly billing,10.08,,6dc5c039750a,10,Monthly,USD,1,6/1/2024,,,,6/18/2024,7/17/2024,,,,,first month",
  // row 3
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,6/20/2024,CFQ7TTC0LH18,0001,CFQ7TTC0K59R,Microsoft 365 Business Basic,Microsoft 365 Business Basic,addQuantity,10.08,10,-94.08,0,-94.08,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000001,6/20/2024,7/17/2024,One-Month commitment for monthly billing,-9.408,,,10,Monthly,USD,1,6/1/2024,,,,6/18/2024,7/17/2024,28b535e0-68f4-40b5-84f7-8ed9241eb149,,,,",
  // row 4
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,6/18/2024,CFQ7TTC0LCHC,0002,,Microsoft 365 Business Premium,Microsoft 365 Business Premium,new,120.96,10,1209.60,0,1209.60,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000002,6/18/2024,6/17/2025,One-Year commitment for yearly billing,120.96,,,10,,USD,1,6/1/2024,,,,6/18/2024,6/17/2025,,,,,",
  // row 5
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,2024-06-05T00:12:44.1234567Z,CFQ7TTC0LFLZ,0002,,Office 365 E3,Office 365 E3,RENEW,264,5,1320,0,1320,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000003,6/5/2024,6/4/2025,One-Year commitment for yearly billing,264,,,5,,USD,1,6/1/2024,,,,6/5/2024,6/4/2025,,,,,",
  // row 6
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,6/25/2024,CFQ7TTC0LFLZ,0002,,Office 365 E3,Office 365 E3,addQuantity,264,5,-1247.65,0,-1247.65,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000003,6/25/2024,6/4/2025,One-Year commitment for yearly billing,-249.5342466,,,5,,USD,1,6/1/2024,,,,6/5/2024,6/4/2025,5c1e7a20-0000-4000-8000-000000000002,,,,",
  // row 7
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,6/25/2024,CFQ7TTC0LFLZ,0002,,Office 365 E3,Office 365 E3,addQuantity,264,7,1746.71,0,1746.71,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000003,6/25/2024,6/4/2025,One-Year commitment for yearly billing,249.5342466,,,7,,USD,1,6/1/2024,,,,6/5/2024,6/4/2025,5c1e7a20-0000-4000-8000-000000000002,,,,",
  // row 8
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0LH18,0001,CFQ7TTC0K59R,Microsoft 365 Business Basic,Microsoft 365 Business Basic,CycleCharge,12.1,3,36.30,0,36.30,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000004,6/21/2024,7/20/2024,One-Year commitment for monthly/yearly billing,12.1,,,3,Monthly,USD,1,6/1/2024,,,,1/21/2024,1/20/2025,,,,,",
  // row 9
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0LF8S,0001,,Dynamics 365 Business Central Essentials,Dynamics 365 Business Central,new,396,2,792,0,792,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000005,6/10/2024,6/9/2025,Three-year commitment for monthly/yearly billing,396,,,2,Annual,USD,1,6/1/2024,,,,6/10/2024,6/9/2027,,,,,",
  // row 10
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0LCHC,0002,,Microsoft 365 Business Premium,Microsoft 365 Business Premium,new,120.96,3,362.88,0,362.88,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000006,6/20/2024,6/19/2025,One-Year commitment for yearly billing,120.96,,,3,,USD,1,6/1/2024,,,,6/20/2024,6/19/2025,,,,,",
  // row 11
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0LCHC,0002,,Microsoft 365 Business Premium,Microsoft 365 Business Premium,cancelImmediate,120.96,3,-352.95,0,-352.95,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000006,6/23/2024,6/19/2025,One-Year commitment for yearly billing,-117.65,,,3,,USD,1,6/1/2024,,,,6/20/2024,6/19/2025,,,,,",
  // row 12
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0LH18,0001,CFQ7TTC0K59R,Microsoft 365 Business Basic,Microsoft 365 Business Basic,Cancel,10.08,1,-9.40,0,-9.40,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000007,6/3/2024,6/30/2024,One-Month commitment for monthly billing,-9.408,,,1,Monthly,USD,1,6/1/2024,,,,6/1/2024,6/30/2024,,,,,",
  // row 13
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0LDPB,0001,,Microsoft 365 Business Standard,Microsoft 365 Business Standard,convert,15,10,-105.00,0,-105.00,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000008,6/10/2024,6/30/2024,One-Month commitment for monthly billing,-10.5,,,10,Monthly,USD,1,6/1/2024,,,,6/1/2024,6/30/2024,5c1e7a20-0000-4000-8000-000000000003,,,,",
  // row 14
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0LFLZ,0002,,Office 365 E3,Office 365 E3,convert,43.2,10,300.00,0,300.00,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000008,6/10/2024,6/30/2024,One-Month commitment for monthly billing,30,,,10,Monthly,USD,1,6/1/2024,,,,6/1/2024,6/30/2024,5c1e7a20-0000-4000-8000-000000000003,,,,",
  // row 15
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0LDPB,0001,,Microsoft 365 Business Standard,Microsoft 365 Business Standard,moveQuantity,15,4,-24.00,0,-24.00,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000009,6/15/2024,6/30/2024,One-Month commitment for monthly billing,-6,,,4,Monthly,USD,1,6/1/2024,,,,6/1/2024,6/30/2024,5c1e7a20-0000-4000-8000-000000000004,,,,",
  // row 16
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0LFLZ,0002,,Office 365 E3,Office 365 E3,moveQuantity,43.2,4,80.00,0,80.00,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000010,6/15/2024,6/30/2024,One-Month commitment for monthly billing,20,,,4,Monthly,USD,1,6/1/2024,,,,6/1/2024,6/30/2024,5c1e7a20-0000-4000-8000-000000000004,,,,",
  // row 17
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0LF8R,0001,,Microsoft Teams Premium,Microsoft Teams Premium,changeBillingPlan,250,1,229.16,0,229.16,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000011,2/10/2024,1/9/2025,One-Year commitment for monthly/yearly billing,229.16,,,1,Annual,USD,1,6/1/2024,,,,1/10/2024,1/9/2025,,,,,",
  // row 18
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,DZH318Z0BQPS,00C9,,Azure plan,Azure plan,customerCredit,25,1,-25.00,0,-25.00,USD,,Microsoft Corporation,,Azure plan,a0000000-0000-4000-8000-000000000012,6/1/2024,6/30/2024,,-25,,,1,,USD,1,6/1/2024,,,Azure Credit Offer,,,,,,,",
  // row 19
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0LH18,0001,CFQ7TTC0K59R,Microsoft 365 Business Basic,Microsoft 365 Business Basic,removeQuantity,10.08,12,-112.89,0,-112.89,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000013,6/4/2024,6/30/2024,One-Month commitment for monthly billing,-9.408,,,12,Monthly,USD,1,6/1/2024,,,,6/1/2024,6/30/2024,5c1e7a20-0000-4000-8000-000000000005,,,,",
  // row 20
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0LH18,0001,CFQ7TTC0K59R,Microsoft 365 Business Basic,Microsoft 365 Business Basic,removeQuantity,10.08,10,94.08,0,94.08,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000013,6/4/2024,6/30/2024,One-Month commitment for monthly billing,9.408,,,10,Monthly,USD,1,6/1/2024,,,,6/1/2024,6/30/2024,5c1e7a20-0000-4000-8000-000000000005,,,,",
  // row 21
  '0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0LHSF,0001,,Microsoft Teams Rooms Pro,Microsoft Teams Rooms Pro,new,0,25,0,0,0,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000014,6/12/2024,7/11/2024,One-Month commitment for trial,0,,,25,,USD,1,6/1/2024,,,,6/12/2024,7/11/2024,,"[""AddOn"",""Trial""]",,,',
  // row 22
  '0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0LHSF,0001,,Microsoft Teams Rooms Pro,Microsoft Teams Rooms Pro,convert,0,25,0,0,0,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000014,6/20/2024,7/19/2024,One-Month commitment for monthly billing,0,,,25,Monthly,USD,1,6/1/2024,,,,6/20/2024,7/19/2024,5c1e7a20-0000-4000-8000-000000000006,"[""Trial""]",,,',
  // row 23
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0LHSF,0002,,Microsoft Teams Rooms Pro,Microsoft Teams Rooms Pro,convert,12.5,25,312.50,0,312.50,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000014,6/20/2024,7/19/2024,One-Month commitment for monthly billing,12.5,,,25,Monthly,USD,1,6/1/2024,,,,6/20/2024,7/19/2024,5c1e7a20-0000-4000-8000-000000000006,[],,,",
  // row 24
  '0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0HL8W,0001,CFQ7TTC0K5RQ,Power BI Premium Per User,Power BI Premium Per User,new,20,50,720,73,793,USD,"[""Price for given billing period"",""You are getting a discount due to a pre-determined override."",""You are getting a discount for being a partner."",""You are getting a price guarantee for your price."",""Price for given term""]",Microsoft Corporation,,,a0000000-0000-4000-8000-000000000019,6/1/2024,6/30/2024,One-Month commitment for monthly billing,14.4,,,50,Monthly,USD,1,6/1/2024,,,,6/1/2024,6/30/2024,,,CFQ7TTC0LDPB:1:CFQ7TTC0GZQJ,,"promo, 28% off"',
  // row 25
  '0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,DZH318Z0BNZ5,006G,DZH318Z08B80,Tables - LRS,Tables,new,0.045,,0.12,0,0.12,USD,"[""15.0% Partner earned credit for services managed""]",Microsoft Corporation,,Azure plan,a0000000-0000-4000-8000-000000000020,6/1/2024,6/30/2024,Data Stored (GB/Month),0.03825,1 GB/Month,,3.1618,,USD,1,6/1/2024,Tables - LRS Data Stored (GB/Month),,,,,,,,,',
  // row 26
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,DZH318Z0BP5D,0034,,Bandwidth,Bandwidth,new,1E-05,,0,0,0,USD,,Microsoft Corporation,,Azure plan,a0000000-0000-4000-8000-000000000020,6/1/2024,6/30/2024,,1E-05,1 GB,,0.005001,,USD,1,6/1/2024,Bandwidth - Data Transfer In (GB),,,,,,,,,",
  // row 27
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,DZH318Z0BQ4T,001R,,Standard Page Blob v2 - LRS,Storage,new,0.00004,,0.04,0,0.04,USD,,Microsoft Corporation,,Azure plan,a0000000-0000-4000-8000-000000000020,6/1/2024,6/30/2024,,0.00004,10K,,1234.5678,,USD,1,6/1/2024,Standard Page Blob v2 - LRS Write Operations (10K),,,,,,,,,",
  // row 28
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,DG7GMGF0FKZV,0001,,Windows Server 2022 Standard - 16 Core License Pack,Windows Server 2022,new,972.36,1,972.36,0,972.36,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000021,6/14/2024,,,972.36,,,1,,USD,1,6/1/2024,,,,6/14/2024,,,,,,",
  // row 29
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0LH18,0001,CFQ7TTC0K59R,Microsoft 365 Business Basic,Microsoft 365 Business Basic,someFutureType,10.08,1,1.00,0,1.00,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000015,6/1/2024,6/30/2024,One-Month commitment for monthly billing,1,,,1,Monthly,USD,1,6/1/2024,,,,6/1/2024,6/30/2024,,,,,",
  // row 30
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0LFK5,0001,,Microsoft 365 E5,Microsoft 365 E5,new,27.5,2,55.00,0,55.00,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000016,6/1/2024,6/30/2024,One-Month commitment for monthly billing,27.5,,,2,Monthly,USD,1,6/1/2024,,,,6/1/2024,6/30/2024,,,,,",
  // row 31
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,,CFQ7TTC0LFK5,0001,,Microsoft 365 E5,Microsoft 365 E5,new,27.5,2,55.00,0,55.00,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000016,6/1/2024,6/30/2024,One-Month commitment for monthly billing,27.5,,,2,Monthly,USD,1,6/1/2024,,,,6/1/2024,6/30/2024,,,,,",
  // row 32
  '0e195b37-4574-4539-bc42-0e539b9684c0,org:4a7b0e6f-3c1d-4d5e-9f80-112233445566,"Fabrikam ""North"", Inc.",fabrikamnorth.onmicrosoft.com,US,G052345678,6034453,0,,6/7/2024 12:00:00 AM,CFQ7TTC0LH18,0001,CFQ7TTC0K59R,Microsoft 365 Business Basic,Microsoft 365 Business Basic,new,10.08,4,40.32,0,40.32,USD,,Microsoft Corporation,,"Basic for the\nfront desk, ground floor",a0000000-0000-4000-8000-000000000017,6/7/2024 12:00:00 AM,7/6/2024 12:00:00 AM,One-Month commitment for monthly billing,10.08,,,4,Monthly,USD,1,6/1/2024,,,,6/7/2024,7/6/2024,,,,,',
  // row 33
  '0e195b37-4574-4539-bc42-0e539b9684c0,4A7B0E6F-3C1D-4D5E-9F80-112233445566,"Fabrikam ""North"", Inc.",fabrikamnorth.onmicrosoft.com,US,G052345678,6034453,0,,2024-06-07T09:22:40.1767993-08:00,CFQ7TTC0LH18,0001,CFQ7TTC0K59R,Microsoft 365 Business Basic,Microsoft 365 Business Basic,renew,10.08,1,10.08,0,10.08,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000018,2024-06-07T09:22:40.1767993-08:00,2024-07-06T00:00:00.0000000Z,One-Month commitment for monthly billing,10.08,,,1,Monthly,USD,1,6/1/2024,,,,2024-06-07,2024-07-06,,,,,',
  // row 34
  "0e195b37-4574-4539-bc42-0e539b9684c0,196e2273-9651-43a3-ba7e-7cbcd918fc40,Johnny Modern Cust DE2,testcustomerdomain.onmicrosoft.com,DE,G052345678,6034453,6048879,,6/20/2024,CFQ7TTC0LH18,0001,CFQ7TTC0K59R,Microsoft 365 Business Basic,Microsoft 365 Business Basic,addQuantity,10.08,12,112.89,0,112.89,USD,,Microsoft Corporation,,,a0000000-0000-4000-8000-000000000001,6/20/2024,7/17/2024,One-Month commitment for monthly billing,9.408,,,12,Monthly,USD,1,6/1/2024,,,,6/18/2024,7/17/2024,28b535e0-68f4-40b5-84f7-8ed9241eb149,,,,",
];
const V1_JSONL_LINES = [
  // row 2 of the CSV: numbers as JSON numbers except unitPrice, resellerMpnId as a string
  '{"partnerId":"0e195b37-4574-4539-bc42-0e539b9684c0","customerId":"196e2273-9651-43a3-ba7e-7cbcd918fc40","customerName":"Johnny Modern Cust DE2","customerDomainName":"testcustomerdomain.onmicrosoft.com","customerCountry":"DE","invoiceNumber":"G052345678","mpnId":"6034453","resellerMpnId":"6048879","orderId":"6dc5c039750a","orderDate":"2024-06-18T18:30:06.6045692Z","productId":"CFQ7TTC0LH18","skuId":"0001","availabilityId":"CFQ7TTC0K59R","skuName":"Microsoft 365 Business Basic","productName":"Microsoft 365 Business Basic","chargeType":"New","unitPrice":"10.08","quantity":10,"subtotal":100.80,"taxTotal":0,"totalForCustomer":100.80,"currency":"USD","priceAdjustmentDescription":"","publisherName":"Microsoft Corporation","publisherId":"","subscriptionDescription":"","subscriptionId":"a0000000-0000-4000-8000-000000000001","chargeStartDate":"2024-06-18T00:00:00.0000000Z","chargeEndDate":"2024-07-17T00:00:00.0000000Z","termAndBillingCycle":"One-Month commitment for monthly billing","effectiveUnitPrice":10.08,"unitType":"","alternateId":"6dc5c039750a","billableQuantity":10,"billingFrequency":"Monthly","pricingCurrency":"USD","pcToBCExchangeRate":1,"pcToBCExchangeRateDate":"2024-06-01T00:00:00","meterDescription":"","reservationOrderId":"","creditReasonCode":"","subscriptionStartDate":"2024-06-18T00:00:00.0000000Z","subscriptionEndDate":"2024-07-17T00:00:00.0000000Z","referenceId":"","productQualifiers":[],"promotionId":"","productCategory":"","invoiceLineItemType":"billing_line_items","billingProvider":"one_time","attributes":{"objectType":"OneTimeInvoiceLineItem"}}',
  // row 25 (Azure meter): resellerMpnId as a number, price-adjustment as a real array
  '{"partnerId":"0e195b37-4574-4539-bc42-0e539b9684c0","customerId":"196e2273-9651-43a3-ba7e-7cbcd918fc40","customerName":"Johnny Modern Cust DE2","customerDomainName":"testcustomerdomain.onmicrosoft.com","customerCountry":"DE","invoiceNumber":"G052345678","mpnId":"6034453","resellerMpnId":6048879,"orderId":"","orderDate":"","productId":"DZH318Z0BNZ5","skuId":"006G","availabilityId":"DZH318Z08B80","skuName":"Tables - LRS","productName":"Tables","chargeType":"new","unitPrice":0.045,"quantity":"","subtotal":0.12,"taxTotal":0,"totalForCustomer":0.12,"currency":"USD","priceAdjustmentDescription":["15.0% Partner earned credit for services managed"],"publisherName":"Microsoft Corporation","publisherId":"","subscriptionDescription":"Azure plan","subscriptionId":"a0000000-0000-4000-8000-000000000020","chargeStartDate":"2024-06-01T00:00:00.0000000Z","chargeEndDate":"2024-06-30T00:00:00.0000000Z","termAndBillingCycle":"Data Stored (GB/Month)","effectiveUnitPrice":0.03825,"unitType":"1 GB/Month","alternateId":"","billableQuantity":3.1618,"billingFrequency":"","pricingCurrency":"USD","pcToBCExchangeRate":"1","pcToBCExchangeRateDate":"2024-06-01T00:00:00","meterDescription":"Tables - LRS Data Stored (GB/Month)","reservationOrderId":"","creditReasonCode":"","subscriptionStartDate":"","subscriptionEndDate":"","referenceId":"","productQualifiers":[],"promotionId":"","productCategory":"","invoiceLineItemType":"billing_line_items","billingProvider":"one_time","attributes":{"objectType":"OneTimeInvoiceLineItem"}}',
  // row 21 (trial add-on): productQualifiers as an array, every number as a string
  '{"partnerId":"0e195b37-4574-4539-bc42-0e539b9684c0","customerId":"196e2273-9651-43a3-ba7e-7cbcd918fc40","customerName":"Johnny Modern Cust DE2","customerDomainName":"testcustomerdomain.onmicrosoft.com","customerCountry":"DE","invoiceNumber":"G052345678","mpnId":"6034453","resellerMpnId":"6048879","orderId":"","orderDate":"","productId":"CFQ7TTC0LHSF","skuId":"0001","availabilityId":"","skuName":"Microsoft Teams Rooms Pro","productName":"Microsoft Teams Rooms Pro","chargeType":"new","unitPrice":"0","quantity":"25","subtotal":"0","taxTotal":"0","totalForCustomer":"0","currency":"USD","priceAdjustmentDescription":"","publisherName":"Microsoft Corporation","publisherId":"","subscriptionDescription":"","subscriptionId":"a0000000-0000-4000-8000-000000000014","chargeStartDate":"2024-06-12T00:00:00.0000000Z","chargeEndDate":"2024-07-11T00:00:00.0000000Z","termAndBillingCycle":"One-Month commitment for trial","effectiveUnitPrice":"0","unitType":"","alternateId":"","billableQuantity":"25","billingFrequency":"","pricingCurrency":"USD","pcToBCExchangeRate":"1","pcToBCExchangeRateDate":"2024-06-01T00:00:00","meterDescription":"","reservationOrderId":"","creditReasonCode":"","subscriptionStartDate":"2024-06-12T00:00:00.0000000Z","subscriptionEndDate":"2024-07-11T00:00:00.0000000Z","referenceId":"","productQualifiers":["AddOn","Trial"],"promotionId":"","productCategory":"","invoiceLineItemType":"billing_line_items","billingProvider":"one_time","attributes":{"objectType":"OneTimeInvoiceLineItem"}}',
  // row 32 (customer B): resellerMpnId 0 as a number, a line break inside a string
  '{"partnerId":"0e195b37-4574-4539-bc42-0e539b9684c0","customerId":"4a7b0e6f-3c1d-4d5e-9f80-112233445566","customerName":"Fabrikam \\"North\\", Inc.","customerDomainName":"fabrikamnorth.onmicrosoft.com","customerCountry":"US","invoiceNumber":"G052345678","mpnId":"6034453","resellerMpnId":0,"orderId":"","orderDate":"2024-06-07T00:00:00.0000000Z","productId":"CFQ7TTC0LH18","skuId":"0001","availabilityId":"CFQ7TTC0K59R","skuName":"Microsoft 365 Business Basic","productName":"Microsoft 365 Business Basic","chargeType":"new","unitPrice":"10.08","quantity":4,"subtotal":"40.32","taxTotal":"0","totalForCustomer":"40.32","currency":"USD","priceAdjustmentDescription":"","publisherName":"Microsoft Corporation","publisherId":"","subscriptionDescription":"Basic for the\\nfront desk, ground floor","subscriptionId":"a0000000-0000-4000-8000-000000000017","chargeStartDate":"2024-06-07T00:00:00.0000000Z","chargeEndDate":"2024-07-06T00:00:00.0000000Z","termAndBillingCycle":"One-Month commitment for monthly billing","effectiveUnitPrice":"10.08","unitType":"","alternateId":"","billableQuantity":"4","billingFrequency":"Monthly","pricingCurrency":"USD","pcToBCExchangeRate":"1","pcToBCExchangeRateDate":"2024-06-01T00:00:00","meterDescription":"","reservationOrderId":"","creditReasonCode":"","subscriptionStartDate":"2024-06-07T00:00:00.0000000Z","subscriptionEndDate":"2024-07-06T00:00:00.0000000Z","referenceId":"","productQualifiers":[],"promotionId":"","productCategory":"","invoiceLineItemType":"billing_line_items","billingProvider":"one_time","attributes":{"objectType":"OneTimeInvoiceLineItem"}}',
];

const BOM = "\uFEFF";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cspsync-independent-"));
let counter = 0;
function write(name: string, content: string | Buffer): string {
  const full = path.join(dir, `${++counter}-${name}`);
  fs.writeFileSync(full, content);
  return full;
}
const mainCsv = () => BOM + MAIN_CSV_LINES.join("\r\n") + "\r\n";
const SUB = (n: number) => `a0000000-0000-4000-8000-${String(n).padStart(12, "0")}`;

async function lineRows(store: Store) {
  return store.db.selectFrom("charge_lines").selectAll().orderBy("source_row").execute();
}
async function eventOf(store: Store, subscriptionId: string, chargeType: string) {
  return store.db
    .selectFrom("charge_events")
    .selectAll()
    .where("subscription_id", "=", subscriptionId)
    .where("charge_type", "=", chargeType)
    .execute();
}

describe("independent reconciliation files: a full month as the portal writes it (sqlite)", () => {
  let store: Store;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ store, cleanup } = await createTestStore("sqlite"));
  });
  after(async () => cleanup());

  it("imports every documented charge type from a BOM + CRLF CSV with quoted commas, quotes and line breaks", async () => {
    const summary = await importReconFile(store, write("G052345678.csv", mainCsv()));
    assert.equal(summary.status, "imported", summary.problem?.message);
    assert.equal(summary.format, "csv");
    assert.equal(summary.lines, 33);
    assert.equal(summary.newLines, 33);
    assert.deepEqual(summary.invoices, ["G052345678"]);
    // `org:`-prefixed and upper-case spellings of customer B's tenant id are one customer
    // (docs/billing-data.md §3.2).
    assert.equal(summary.customers, 2);
    assert.deepEqual(summary.linesByMotion, { "seat-monthly": 20, azure: 4, "seat-annual": 9 });
    // The zero-value trial purchase and the trial half of its conversion (docs/billing-data.md §7).
    assert.equal(summary.notBillable, 2);
  });

  it("reads every charge type case-insensitively, legacy `Cancel` as cancelImmediate, unknown ones kept raw (docs/billing-data.md §4)", async () => {
    const types = (await lineRows(store)).map((l) => [l.source_row, l.charge_type]);
    assert.deepEqual(types, [
      [2, "new"],
      [3, "addQuantity"],
      [4, "new"],
      [5, "renew"],
      [6, "addQuantity"],
      [7, "addQuantity"],
      [8, "cycleCharge"],
      [9, "new"],
      [10, "new"],
      [11, "cancelImmediate"],
      [12, "cancelImmediate"],
      [13, "convert"],
      [14, "convert"],
      [15, "moveQuantity"],
      [16, "moveQuantity"],
      [17, "changeBillingPlan"],
      [18, "customerCredit"],
      [19, "removeQuantity"],
      [20, "removeQuantity"],
      [21, "new"],
      [22, "convert"],
      [23, "convert"],
      [24, "new"],
      [25, "new"],
      [26, "new"],
      [27, "new"],
      [28, "new"],
      [29, "other:someFutureType"],
      [30, "new"],
      [31, "new"],
      [32, "new"],
      [33, "renew"],
      [34, "addQuantity"],
    ]);
    const raw = await lineSourceRecord(
      store,
      (await lineRows(store)).find((l) => l.source_row === 12)!,
    );
    assert.equal(raw.ChargeType, "Cancel", "the source keeps the spelling of the file");
  });

  it("puts each subscription in the motion its dates and BillingFrequency say (docs/billing-data.md §5.1, §7)", async () => {
    const motions = new Map<string, Set<string>>();
    for (const line of await lineRows(store)) {
      const set = motions.get(line.subscription_id) ?? new Set();
      set.add(line.motion);
      motions.set(line.subscription_id, set);
    }
    const expected: Record<number, string> = {
      1: "seat-monthly", // P1M monthly + its addQuantity pair
      2: "seat-annual", // P1Y upfront new, blank BillingFrequency, charge window = term
      3: "seat-annual", // upfront renew + prorated addQuantity pair to term end
      4: "seat-monthly", // P1Y billed monthly: cycleCharge
      5: "seat-annual", // P3Y billed Annual
      6: "seat-annual", // upfront new + cancelImmediate refund
      7: "seat-monthly", // legacy Cancel on a monthly term
      8: "seat-monthly", // full upgrade (convert pair)
      9: "seat-monthly", // moveQuantity base
      10: "seat-monthly", // moveQuantity target
      11: "seat-annual", // changeBillingPlan to Annual
      12: "azure", // Azure credit
      13: "seat-monthly", // removeQuantity pair
      14: "seat-monthly", // trial add-on and its conversion
      15: "seat-monthly", // unknown charge type on a monthly subscription
      16: "seat-monthly", // two identical E5 rows
      17: "seat-monthly",
      18: "seat-monthly",
      19: "seat-monthly", // Power BI PPU with promotion
      20: "azure", // Azure meters
      21: "seat-annual", // perpetual software: no term end
    };
    for (const [n, motion] of Object.entries(expected)) {
      assert.deepEqual([...(motions.get(SUB(Number(n))) ?? [])], [motion], `subscription ${n}`);
    }
  });

  it("nets each credit/charge pair into one event, even when its halves are 31 rows apart (docs/billing-data.md §4, §8.2)", async () => {
    const pick = (e: { seat_delta: string; seats_after: string; amount: string; line_count: number }) => [
      e.seat_delta,
      e.seats_after,
      e.amount,
      e.line_count,
    ];
    // Docs example: 10 seats @ 10.08, +2 on day 3 → −94.08 and +112.89.
    const [monthlyAdd, ...moreAdds] = await eventOf(store, SUB(1), "addQuantity");
    assert.equal(moreAdds.length, 0);
    assert.deepEqual(pick(monthlyAdd!), ["2", "12", "18.81", 2]);
    assert.equal(monthlyAdd!.effective_unit_price, "9.408");
    const [annualAdd] = await eventOf(store, SUB(3), "addQuantity");
    assert.deepEqual(pick(annualAdd!), ["2", "7", "499.06", 2]);
    const [remove] = await eventOf(store, SUB(13), "removeQuantity");
    assert.deepEqual(pick(remove!), ["-2", "10", "-18.81", 2]);
    const [upgrade] = await eventOf(store, SUB(8), "convert");
    assert.deepEqual(pick(upgrade!), ["0", "10", "195", 2]);
    // moveQuantity halves live on two subscriptions: each is its own event.
    assert.equal((await eventOf(store, SUB(9), "moveQuantity")).length, 1);
    assert.equal((await eventOf(store, SUB(10), "moveQuantity")).length, 1);
  });

  it("a trial conversion nets the free trial half against the paid half: same seats, paid amount", async () => {
    const [conversion] = await eventOf(store, SUB(14), "convert");
    assert.ok(conversion);
    assert.equal(conversion.seat_delta, "0");
    assert.equal(conversion.seats_after, "25");
    assert.equal(conversion.amount, "312.5");
    assert.equal(conversion.is_billable, 1);
    const [trial] = await eventOf(store, SUB(14), "new");
    assert.equal(trial!.is_billable, 0);
  });

  it("event amounts sum exactly to the file's Subtotals; events are lines minus one per pair", async () => {
    const events = await store.db.selectFrom("charge_events").select(["amount", "total"]).execute();
    assert.equal(events.length, 33 - 5);
    const { Decimal } = await import("decimal.js");
    const sum = (values: string[]) => values.reduce((a, v) => a.plus(v), new Decimal(0)).toFixed();
    assert.equal(sum(events.map((e) => e.amount)), "6579.87");
    assert.equal(sum(events.map((e) => e.total)), "6652.87");
    const invoice = await store.db.selectFrom("invoices").selectAll().executeTakeFirstOrThrow();
    assert.equal(new Decimal(invoice.subtotal).toFixed(), "6579.87");
    assert.equal(new Decimal(invoice.total).toFixed(), "6652.87");
    assert.equal(invoice.currency, "USD");
  });

  it("keeps tiny Azure prices exactly, in plain notation (docs/billing-data.md §3.2 EUP 0.03825, 1E-05, 0.00004)", async () => {
    const azure = (await lineRows(store)).filter((l) => l.subscription_id === SUB(20));
    assert.deepEqual(
      azure.map((l) => [l.unit_price, l.effective_unit_price, l.billable_quantity, l.subtotal, l.quantity]),
      [
        ["0.045", "0.03825", "3.1618", "0.12", null],
        ["0.00001", "0.00001", "0.005001", "0", null],
        ["0.00004", "0.00004", "1234.5678", "0.04", null],
      ],
    );
    assert.deepEqual(
      azure.map((l) => l.motion),
      ["azure", "azure", "azure"],
    );
  });

  it("normalises en-US dates with times and ISO instants with 7-digit fractions and offsets to UTC (docs/billing-data.md §3.3)", async () => {
    const rows = await lineRows(store);
    const row = (n: number) => rows.find((l) => l.source_row === n)!;
    assert.equal(row(2).order_date, "2024-06-18T18:30:06.000Z");
    assert.equal(row(5).order_date, "2024-06-05T00:12:44.123Z");
    assert.deepEqual([row(32).charge_start, row(32).charge_end], ["2024-06-07", "2024-07-06"]);
    // 09:22 at −08:00 is 17:22 UTC the same day.
    assert.equal(row(33).order_date, "2024-06-07T17:22:40.176Z");
    assert.deepEqual([row(33).charge_start, row(33).charge_end], ["2024-06-07", "2024-07-06"]);
    assert.equal(row(28).charge_end, null, "perpetual software has no charge end");
  });

  it("keeps every source column, the quoted text intact, and the unknown extra column", async () => {
    const rows = await lineRows(store);
    const sources = new Map<number, Record<string, string>>();
    for (const row of rows) sources.set(row.source_row, await lineSourceRecord(store, row));
    const source = (n: number) => sources.get(n)!;
    assert.equal(
      source(24).PriceAdjustmentDescription,
      '["Price for given billing period","You are getting a discount due to a pre-determined override.","You are getting a discount for being a partner.","You are getting a price guarantee for your price.","Price for given term"]',
    );
    assert.equal(source(24).PromotionId, "CFQ7TTC0LDPB:1:CFQ7TTC0GZQJ");
    assert.equal(source(24).DistributorNotes, "promo, 28% off");
    assert.equal(source(2).DistributorNotes, "first month");
    assert.equal(source(32).SubscriptionDescription, "Basic for the\nfront desk, ground floor");
    assert.equal(source(32).CustomerId, "org:4a7b0e6f-3c1d-4d5e-9f80-112233445566");
    assert.equal(source(2).MpnId, "6034453");
    assert.equal(source(2).ResellerMpnId, "6048879");
    assert.equal(source(18).CreditReasonCode, "Azure Credit Offer");
    assert.equal(rows.find((l) => l.source_row === 24)!.tax_total, "73");
    assert.equal(rows.find((l) => l.source_row === 24)!.total, "793");

    const customers = await store.db.selectFrom("customers").selectAll().orderBy("tenant_id").execute();
    assert.deepEqual(
      customers.map((c) => [c.tenant_id, c.name, c.domain, c.country]),
      [
        [
          "196e2273-9651-43a3-ba7e-7cbcd918fc40",
          "Johnny Modern Cust DE2",
          "testcustomerdomain.onmicrosoft.com",
          "DE",
        ],
        [
          "4a7b0e6f-3c1d-4d5e-9f80-112233445566",
          'Fabrikam "North", Inc.',
          "fabrikamnorth.onmicrosoft.com",
          "US",
        ],
      ],
    );
  });

  it("keeps both of two identical rows, as two events (docs/billing-data.md §8.1: telco/non-telco split)", async () => {
    const e5 = (await lineRows(store)).filter((l) => l.subscription_id === SUB(16));
    assert.equal(e5.length, 2);
    assert.notEqual(e5[0]!.line_key, e5[1]!.line_key);
    assert.equal((await eventOf(store, SUB(16), "new")).length, 2);
  });

  it("the same file again, even as LF without BOM or gzipped, adds nothing", async () => {
    const again = await importReconFile(store, write("again.csv", MAIN_CSV_LINES.join("\n")));
    assert.deepEqual([again.status, again.newLines, again.knownLines], ["imported", 0, 33]);
    const gz = await importReconFile(store, write("again.csv.gz", gzipSync(mainCsv())));
    assert.deepEqual([gz.status, gz.format, gz.newLines, gz.knownLines], ["imported", "csv.gz", 0, 33]);
    assert.equal((await lineRows(store)).length, 33);
  });

  it("v1-style JSON Lines of the same lines (camelCase, totalForCustomer, numbers as strings or numbers) adds nothing", async () => {
    const summary = await importReconFile(store, write("v1.jsonl", V1_JSONL_LINES.join("\r\n") + "\r\n"));
    assert.equal(summary.status, "imported", summary.problem?.message);
    assert.equal(summary.format, "jsonl");
    assert.deepEqual([summary.lines, summary.newLines, summary.knownLines], [4, 0, 4]);
    assert.equal(summary.notBillable, 1);
  });

  it("an overlapping file adds only what is new: a third copy of a twice-seen row is new, the rest known", async () => {
    const e5 = MAIN_CSV_LINES[30]!;
    const overlap = [MAIN_CSV_LINES[0]!, MAIN_CSV_LINES[1]!, e5, e5, e5].join("\n");
    const summary = await importReconFile(store, write("overlap.csv", overlap));
    assert.deepEqual([summary.status, summary.newLines, summary.knownLines], ["imported", 1, 3]);
    assert.equal((await lineRows(store)).filter((l) => l.subscription_id === SUB(16)).length, 3);
  });
});

describe("independent reconciliation files: v1 JSON Lines keeps its extra attributes (sqlite)", () => {
  it("stores v1-only keys (attributes, billingProvider) with the line, gzipped, BOM at the start", async () => {
    const { store, cleanup } = await createTestStore("sqlite");
    try {
      const summary = await importReconFile(
        store,
        write("v1.json.gz", gzipSync(BOM + V1_JSONL_LINES.join("\n"))),
      );
      assert.equal(summary.status, "imported", summary.problem?.message);
      assert.equal(summary.format, "jsonl.gz");
      assert.equal(summary.newLines, 4);
      const lines = await lineRows(store);
      const first = await lineSourceRecord(store, lines[0]!);
      assert.equal(first.billingProvider, "one_time");
      assert.equal(first.attributes, '{"objectType":"OneTimeInvoiceLineItem"}');
      assert.equal(
        first.Total,
        "100.80",
        "totalForCustomer is the Total column, its number text kept as written",
      );
      assert.deepEqual(
        lines.map((l) => [l.customer_tenant_id.slice(0, 8), l.unit_price, l.quantity, l.subtotal, l.total]),
        [
          ["196e2273", "10.08", "10", "100.8", "100.8"],
          ["196e2273", "0.045", null, "0.12", "0.12"],
          ["196e2273", "0", "25", "0", "0"],
          ["4a7b0e6f", "10.08", "4", "40.32", "40.32"],
        ],
      );
      assert.equal((await lineSourceRecord(store, lines[1]!)).ResellerMpnId, "6048879");
      assert.equal((await lineSourceRecord(store, lines[3]!)).ResellerMpnId, "0");
      assert.equal(lines[2]!.is_billable, 0);
    } finally {
      await cleanup();
    }
  });
});

describe("independent reconciliation files: the portal's day-only OrderDate (sqlite)", () => {
  it("a CSV line whose OrderDate is a day and the API line with the full instant are the same line (docs/billing-data.md §3.2, §8.1)", async () => {
    const { store, cleanup } = await createTestStore("sqlite");
    try {
      const dayOnly = MAIN_CSV_LINES[1]!.replace("6/18/2024 6:30:06 PM", "6/18/2024");
      assert.notEqual(dayOnly, MAIN_CSV_LINES[1]);
      const csv = await importReconFile(store, write("day.csv", [MAIN_CSV_LINES[0]!, dayOnly].join("\r\n")));
      assert.equal(csv.newLines, 1, csv.problem?.message);
      const jsonl = await importReconFile(store, write("instant.jsonl", V1_JSONL_LINES[0]!));
      assert.deepEqual([jsonl.status, jsonl.newLines, jsonl.knownLines], ["imported", 0, 1]);
    } finally {
      await cleanup();
    }
  });
});

describe("independent reconciliation files: money exactness on PostgreSQL NUMERIC", () => {
  it("stores and reads back tiny and long decimals exactly, never through a float (docs/billing-data.md §6)", async () => {
    const { store, cleanup } = await createTestStore("postgres");
    try {
      const header = MAIN_CSV_LINES[0]!;
      const azure = MAIN_CSV_LINES[24]!
        .replace(",0.045,,0.12,0,0.12,", ",0.000012345678901234567890,,123456789012.34,0,123456789012.34,")
        .replace(",0.03825,", ",1.2345678901234567890123E-05,");
      assert.notEqual(azure, MAIN_CSV_LINES[24]);
      const summary = await importReconFile(store, write("exact.csv", [header, azure].join("\r\n")));
      assert.equal(summary.status, "imported", summary.problem?.message);
      const line = await store.db.selectFrom("charge_lines").selectAll().executeTakeFirstOrThrow();
      assert.equal(line.unit_price, "0.00001234567890123456789");
      assert.equal(line.effective_unit_price, "0.000012345678901234567890123");
      assert.equal(line.subtotal, "123456789012.34");
      const event = await store.db.selectFrom("charge_events").selectAll().executeTakeFirstOrThrow();
      assert.equal(event.amount, "123456789012.34");
      assert.equal(event.effective_unit_price, "0.000012345678901234567890123");
    } finally {
      await cleanup();
    }
  });
});
