import zxcvbnCore from "@zxcvbn-ts/core";
import zxcvbnCommon from "@zxcvbn-ts/language-common";

/**
 * What a new password must be: at least 12 characters, and not a common password or an easy variation of
 * one. "Common" is the zxcvbn-ts common-language dictionary (lists of the most used and most often breached
 * passwords, maintained upstream), checked with zxcvbn's estimator so that "Password123!" or "letmein12345"
 * are refused as well as the exact list entries. Only new passwords are checked; a login never is.
 */
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 256;
/** zxcvbn scores 0–4; 3 means "safely unguessable: moderate protection from an offline attack". */
const MIN_SCORE = 3;
/** zxcvbn only looks at the first characters of long inputs; its cost grows with length. */
const CHECKED_PREFIX = 100;

const WARNINGS: Record<string, string> = {
  common: "it is on a list of commonly used passwords",
  commonNames: "it is a common name",
  similarToCommon: "it is a small variation of a commonly used password",
  topTen: "it is one of the ten most used passwords",
  topHundred: "it is one of the hundred most used passwords",
  wordByItself: "it is a single word",
  namesByThemselves: "it is a name",
  sequences: "it is a sequence like abc or 123",
  straightRow: "it is a row of keys",
  keyPattern: "it is a keyboard pattern",
  simpleRepeat: "it repeats characters",
  extendedRepeat: "it repeats a pattern",
  recentYears: "it is built on a recent year",
  dates: "it is built on a date",
  pwned: "it appeared in a data breach",
  userInputs: "it contains your e-mail address",
};

type Checker = { check(password: string, userInputs?: string[]): CheckResult };
type CheckResult = { score: number; feedback: { warning: string | null } };

let checker: Checker | undefined;

function passwordChecker(): Checker {
  // The dictionary is decompressed on first use (tens of milliseconds), not when cspsync starts.
  checker ??= new zxcvbnCore.ZxcvbnFactory({
    dictionary: { ...zxcvbnCommon.dictionary },
    graphs: zxcvbnCommon.adjacencyGraphs,
  }) as Checker;
  return checker;
}

/** Why `password` may not be used, or undefined when it may. `email` is the account's, not allowed inside. */
export function passwordProblem(password: string, email?: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH)
    return `password must have at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH)
    return `password must have at most ${MAX_PASSWORD_LENGTH} characters`;
  const inputs = email ? [email, email.split("@")[0]!] : [];
  const result = passwordChecker().check(password.slice(0, CHECKED_PREFIX), inputs);
  if (result.score >= MIN_SCORE) return undefined;
  const why = (result.feedback.warning && WARNINGS[result.feedback.warning]) ?? "it is too easy to guess";
  return `password is too easy to guess: ${why}; use a longer phrase of unrelated words`;
}
