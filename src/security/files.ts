import fs from "node:fs";
import path from "node:path";

/**
 * cspsync's files hold billing data and (sealed) PSA credentials, so they are for the account cspsync runs as
 * only: directories it creates are 0700 and files 0600, whatever the process umask. Modes are set explicitly
 * after creation, because the umask can only take permissions away.
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

export type Warn = (message: string) => void;

export const warnOnConsole: Warn = (message) => console.warn(`cspsync: ${message}`);

const modeText = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/**
 * Creates `dir` (and any missing parents) owner-only. An existing directory is left alone unless `tighten`
 * is set (cspsync's own data directory): then group/other access is removed, with a warning.
 */
export function ensurePrivateDir(dir: string, options: { tighten?: boolean; warn?: Warn } = {}): void {
  const absolute = path.resolve(dir);
  const firstCreated = fs.mkdirSync(absolute, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (firstCreated !== undefined) {
    // Every directory from the first one created down to `dir` is new: set each mode explicitly.
    const created = path.relative(firstCreated, absolute).split(path.sep).filter(Boolean);
    let current = firstCreated;
    fs.chmodSync(current, PRIVATE_DIR_MODE);
    for (const part of created) {
      current = path.join(current, part);
      fs.chmodSync(current, PRIVATE_DIR_MODE);
    }
    return;
  }
  if (options.tighten)
    tightenExisting(absolute, PRIVATE_DIR_MODE, "directory", options.warn ?? warnOnConsole);
}

/**
 * Makes sure `file` exists and is 0600 before anything writes to it: a missing file is created empty with
 * that mode; an existing one that others may read is narrowed to it, with a warning.
 */
export function ensurePrivateFile(file: string, warn: Warn = warnOnConsole): void {
  let fd: number;
  let created = false;
  try {
    fd = fs.openSync(
      file,
      fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_RDWR,
      PRIVATE_FILE_MODE,
    );
    created = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    fd = fs.openSync(file, "r");
  }
  try {
    if (created) fs.fchmodSync(fd, PRIVATE_FILE_MODE);
  } finally {
    fs.closeSync(fd);
  }
  if (!created) tightenExisting(file, PRIVATE_FILE_MODE, "file", warn);
}

/** Narrows an existing file (if there is one) that group or others may access to `mode`, with a warning. */
export function tightenIfExists(file: string, warn: Warn = warnOnConsole): void {
  if (fs.existsSync(file)) tightenExisting(file, PRIVATE_FILE_MODE, "file", warn);
}

function tightenExisting(target: string, mode: number, kind: "file" | "directory", warn: Warn): void {
  const current = fs.statSync(target).mode & 0o777;
  if ((current & 0o077) === 0) return;
  try {
    fs.chmodSync(target, mode);
    warn(
      `the ${kind} ${target} was readable by other local users (mode ${modeText(current)}); ` +
        `changed it to ${modeText(mode)}`,
    );
  } catch (error) {
    warn(
      `the ${kind} ${target} is readable by other local users (mode ${modeText(current)}) and could not be ` +
        `changed to ${modeText(mode)}: ${(error as Error).message}`,
    );
  }
}
