import fs from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { MultipartFile } from "@fastify/multipart";
import { z } from "zod";
import { importReconFile, type ImportSummary } from "../../services/import-recon.ts";
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
 * Streams one uploaded file to its own temporary directory (never holding it in memory), imports it, and
 * removes it again whatever happened.
 */
async function importPart(ctx: ServerContext, part: MultipartFile): Promise<ImportSummary> {
  fs.mkdirSync(ctx.uploadDir, { recursive: true });
  const dir = fs.mkdtempSync(path.join(ctx.uploadDir, "upload-"));
  const fileName = safeFileName(part.filename);
  try {
    const target = path.join(dir, fileName);
    await pipeline(part.file, fs.createWriteStream(target, { flags: "wx" }));
    // Over the limit the stream just ends early: a cut-off file must never reach the importer.
    if (part.file.truncated)
      throw new ApiError(
        413,
        "validation",
        `${fileName} is larger than the upload limit of ${ctx.maxUploadBytes} bytes`,
        "file",
      );
    return await importReconFile(ctx.app.store, target, { organizationId: ctx.app.organizationId });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
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
          "streamed to disk and imported whole or not at all; the answer has one result per file.",
        consumes: ["multipart/form-data"],
        // Documents the form; the parts are streamed by the handler, never parsed up front.
        body: z.unknown().meta({
          type: "object",
          properties: { file: { type: "array", items: { type: "string", format: "binary" } } },
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
      const files: ImportSummary[] = [];
      for await (const part of request.parts()) {
        if (part.type !== "file") continue;
        if (part.fieldname !== "file") {
          part.file.resume();
          continue;
        }
        files.push(await importPart(ctx, part));
      }
      if (files.length === 0)
        throw new ApiError(400, "validation", "no part named file in the upload", "file");
      try {
        await ctx.afterImport(files);
      } catch (error) {
        request.log.error({ err: error }, "the after-import step failed; the files were imported");
      }
      return { files };
    },
  );
}
