import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ensurePrivateDir, PRIVATE_FILE_MODE, tightenIfExists, type Warn } from "./files.ts";

/**
 * PSA credentials are encrypted at rest with AES-256-GCM. The key comes from CSPSYNC_SECRET_KEY (32 bytes,
 * base64 or hex) or, on the embedded default, from a key file generated once in the data directory with
 * owner-only permissions. Each ciphertext is bound to the row it belongs to (additional authenticated data),
 * so a ciphertext copied onto another connection does not decrypt.
 */
const VERSION = "v1";
const KEY_FILE = "secret.key";

/** A sealed value that this key cannot open: the key changed (or the value was tampered with). */
export class SecretUnreadableError extends Error {
  constructor(
    message = "stored credentials cannot be decrypted with the current secret key (was CSPSYNC_SECRET_KEY changed?)",
  ) {
    super(message);
    this.name = "SecretUnreadableError";
  }
}

export class SecretBox {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error("the secret key must be 32 bytes (AES-256)");
    this.key = key;
  }

  seal(plaintext: string, boundTo: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(boundTo, "utf8"));
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return [
      VERSION,
      iv.toString("base64"),
      cipher.getAuthTag().toString("base64"),
      ciphertext.toString("base64"),
    ].join(":");
  }

  open(sealed: string, boundTo: string): string {
    const [version, iv, tag, ciphertext] = sealed.split(":");
    if (version !== VERSION || !iv || !tag || ciphertext === undefined)
      throw new SecretUnreadableError("unrecognised secret format");
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(iv, "base64"));
      decipher.setAAD(Buffer.from(boundTo, "utf8"));
      decipher.setAuthTag(Buffer.from(tag, "base64"));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64")), decipher.final()]).toString(
        "utf8",
      );
    } catch {
      throw new SecretUnreadableError();
    }
  }
}

export function parseSecretKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, "hex") : Buffer.from(trimmed, "base64");
  if (key.length !== 32)
    throw new Error("CSPSYNC_SECRET_KEY must be 32 bytes, written as 64 hex digits or base64");
  return key;
}

/**
 * The configured key, or the data directory's key file, created with 0600 permissions on first use (in a
 * 0700 directory); an existing key file that others may read is narrowed to 0600, with a warning.
 */
export function loadSecretBox(dataDir: string, envKey: string | undefined, warn?: Warn): SecretBox {
  if (envKey) return new SecretBox(parseSecretKey(envKey));
  const file = path.join(dataDir, KEY_FILE);
  ensurePrivateDir(dataDir, warn ? { warn } : {});
  // Written whole to a file of its own, then linked into place: processes starting together (several
  // workers on one data directory) either create the key or find a complete one, never a half-written file.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  try {
    fs.writeFileSync(draft, randomBytes(32).toString("base64") + "\n", {
      mode: PRIVATE_FILE_MODE,
      flag: "wx",
    });
    fs.linkSync(draft, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    tightenIfExists(file, warn);
  } finally {
    fs.rmSync(draft, { force: true });
  }
  return new SecretBox(parseSecretKey(fs.readFileSync(file, "utf8")));
}
