/**
 * Resolves with the signal (SIGINT or SIGTERM) that asks a long-running command to stop. Call it before
 * printing that the command is ready: whoever waits for that line may send the signal right after it.
 */
export function untilStopped(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolve(signal);
    };
    const onInt = () => stop("SIGINT");
    const onTerm = () => stop("SIGTERM");
    process.once("SIGINT", onInt);
    process.once("SIGTERM", onTerm);
  });
}
