/**
 * Longest text cspsync accepts in one field, from a file or an API body. Real values are far shorter (a GUID is
 * 36 characters, a product name rarely over 100); the limits keep a damaged or hostile input from storing
 * megabytes per field and carrying them into every listing, log line and PSA request.
 */
/** Identifiers and codes: ids, GUIDs, invoice numbers, SKUs, dates, amounts, currency codes. */
export const MAX_ID_CHARS = 200;
/** Names and descriptions: customer and product names, descriptions, URLs, settings values. */
export const MAX_TEXT_CHARS = 1000;
/** Credentials (API keys, secrets). */
export const MAX_SECRET_CHARS = 1000;
