import fs from "node:fs";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { ensurePrivateDir, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from "../../security/files.ts";
import { importReconFile, type ImportSummary } from "../../services/import-recon.ts";
import { notifyImportsRejected } from "../../services/notifications.ts";
import { DELIMITER_NAMES } from "../../sources/reconciliation/errors.ts";
import type { ApiInstance, ServerContext } from "../context.ts";
import { ApiError, ERROR_RESPONSES } from "../errors.ts";
import { importSummarySchema } from "../schemas.ts";

const STALE_UPLOAD_MS = 24 * 3_600_000;

/** A file name safe to create: the last path segment, printable, bounded; the importer records it. */
export function safeFileName(name: string | undefined): string {
  const base = (name ?? "").split(/[\\/]/).pop() ?? "";
  const cleaned = base
    .replace(/[\p{Cc}\p{Cf}]/gu, "")
    .replace(/^\.+/, "")
    .trim()
    .slice(0, 200);
  return cleaned || "upload";
}

/** Removes upload directories a crashed process left behind. */
export function removeStaleUploads(uploadDir: string, now: Date): void {
  if (!fs.existsSync(uploadDir)) return;
  for (const entry of fs.readdirSync(uploadDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith("upload-")) continue;
    const full = path.join(uploadDir, entry.name);
    if (now.getTime() - fs.statSync(full).mtimeMs > STALE_UPLOAD_MS)
      fs.rmSync(full, { recursive: true, force: true });
  }
}

/**
 * Streams every `file` part of the upload to its own owner-only temporary directory (never holding it in
 * memory), within the limits: bytes per file, files per request (both enforced by @fastify/multipart) and
 * bytes per request (counted here). Over any of them the request is refused with a 413 naming the limit;
 * the caller removes `dir` whatever happened.
 */
async function receiveFiles(
  ctx: ServerContext,
  request: FastifyRequest,
  dir: string,
): Promise<{ files: string[]; delimiter: string | undefined }> {
  const received: string[] = [];
  let delimiter: string | undefined;
  let total = 0;
  const totalTooLarge = () =>
    new ApiError(
      413,
      "validation",
      `the upload is larger than the limit of ${ctx.maxUploadTotalBytes} bytes for all its files together ` +
        "(CSPSYNC_MAX_UPLOAD_TOTAL_BYTES)",
      "file",
    );
  try {
    for await (const part of request.parts()) {
      if (part.type === "field") {
        if (part.fieldname === "delimiter") delimiter = delimiterField(part.value);
        continue;
      }
      if (part.fieldname !== "file") {
        part.file.resume();
        continue;
      }
      const fileName = safeFileName(part.filename);
      const fileDir = path.join(dir, String(received.length + 1));
      fs.mkdirSync(fileDir, { mode: PRIVATE_DIR_MODE });
      const filePath = path.join(fileDir, fileName);
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          total += chunk.length;
          done(total > ctx.maxUploadTotalBytes ? totalTooLarge() : null, chunk);
        },
      });
      await pipeline(
        part.file,
        counter,
        fs.createWriteStream(filePath, { flags: "wx", mode: PRIVATE_FILE_MODE }),
      );
      // Over the limit the stream just ends early: a cut-off file must never reach the importer.
      if (part.file.truncated) throw fileTooLarge(ctx, fileName);
      received.push(filePath);
    }
  } catch (error) {
    throw uploadLimitError(ctx, error);
  }
  return { files: received, delimiter };
}

/**
 * The `delimiter` field: empty or "auto" reads commas (and a file using another separator is refused with a
 * hint naming it); otherwise the separator by name or as the character itself.
 */
const DELIMITER_FIELD = z.enum(["", "auto", "comma", "semicolon", "tab", "pipe", ",", ";", "\t", "|"]);

function delimiterField(value: unknown): string | undefined {
  const parsed = DELIMITER_FIELD.safeParse(typeof value === "string" ? value.toLowerCase() : value);
  if (!parsed.success)
    throw new ApiError(
      400,
      "validation",
      "the delimiter must be auto, comma, semicolon, tab or pipe",
      "delimiter",
    );
  if (parsed.data === "" || parsed.data === "auto") return undefined;
  const named = Object.entries(DELIMITER_NAMES).find(([, name]) => name === parsed.data);
  return named ? named[0] : parsed.data;
}

export function fileTooLarge(ctx: ServerContext, fileName: string): ApiError {
  return new ApiError(
    413,
    "validation",
    `${fileName} is larger than the upload limit of ${ctx.maxUploadBytes} bytes per file (CSPSYNC_MAX_UPLOAD_BYTES)`,
    "file",
  );
}

/** @fastify/multipart's limit errors, with the limit named. */
function uploadLimitError(ctx: ServerContext, error: unknown): unknown {
  switch ((error as { code?: string } | undefined)?.code) {
    case "FST_FILES_LIMIT":
      return new ApiError(
        413,
        "validation",
        `an upload may hold at most ${ctx.maxUploadFiles} files (CSPSYNC_MAX_UPLOAD_FILES); send the others ` +
          "in another upload",
        "file",
      );
    case "FST_REQ_FILE_TOO_LARGE":
      return fileTooLarge(ctx, safeFileName((error as { part?: { filename?: string } }).part?.filename));
    case "FST_PARTS_LIMIT":
    case "FST_FIELDS_LIMIT":
      return new ApiError(
        413,
        "validation",
        "the upload has too many parts; send only parts named file",
        "file",
      );
    default:
      return error;
  }
}

export function registerImportRoutes(fastify: ApiInstance, ctx: ServerContext): void {
  fastify.post(
    "/api/imports",
    {
      config: { access: "admin" },
      schema: {
        tags: ["imports"],
        summary: "Upload and import reconciliation files (admin)",
        description:
          "multipart/form-data with one or more `file` parts (CSV or JSON Lines, optionally gzipped). Each file is " +
          "streamed to disk and imported whole or not at all; the answer has one result per file. An upload holds at " +
          "most CSPSYNC_MAX_UPLOAD_FILES files (default 10) of at most CSPSYNC_MAX_UPLOAD_BYTES each, together at " +
          "most CSPSYNC_MAX_UPLOAD_TOTAL_BYTES; over a limit it is refused with 413 and nothing is imported. An " +
          "optional `delimiter` field (auto, comma, semicolon, tab or pipe; default auto, which reads commas) sets " +
          "the CSV separator for every file of the upload. A file using another separator is rejected with " +
          "`problem.hint` = { kind: delimiter, detected, expected }: upload it again with that delimiter.",
        consumes: ["multipart/form-data"],
        // Documents the form; the parts are streamed by the handler, never parsed up front.
        body: z.unknown().meta({
          type: "object",
          properties: {
            file: { type: "array", items: { type: "string", format: "binary" } },
            delimiter: { type: "string", enum: ["auto", "comma", "semicolon", "tab", "pipe"] },
          },
          required: ["file"],
        }),
        response: { 200: z.object({ files: z.array(importSummarySchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      if (!request.isMultipart())
        throw new ApiError(
          415,
          "validation",
          "send the files as multipart/form-data in parts named file",
          "file",
        );
      // The whole upload is received before anything is imported: a request refused for a limit imports
      // nothing and leaves nothing behind.
      ensurePrivateDir(ctx.uploadDir);
      const dir = fs.mkdtempSync(path.join(ctx.uploadDir, "upload-"));
      const files: ImportSummary[] = [];
      try {
        const received = await receiveFiles(ctx, request, dir);
        for (const filePath of received.files)
          files.push(
            await importReconFile(ctx.app.store, filePath, {
              organizationId: ctx.app.organizationId,
              delimiter: received.delimiter,
            }),
          );
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      if (files.length === 0)
        throw new ApiError(400, "validation", "no part named file in the upload", "file");
      await notifyImportsRejected(ctx.app, files);
      try {
        await ctx.afterImport(files);
      } catch (error) {
        request.log.error({ err: error }, "the after-import step failed; the files were imported");
      }
      return { files };
    },
  );
}
