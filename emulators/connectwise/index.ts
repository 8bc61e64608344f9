/** The ConnectWise Manage emulator (`cspsync emulator connectwise`), see docs/connectwise.md §11. */
export { DEFAULT_CREDENTIALS, startConnectWiseEmulator } from "./server.ts";
export type {
  ConnectWiseCredentials,
  ConnectWiseEmulator,
  ConnectWiseEmulatorOptions,
  ForbiddenRule,
} from "./server.ts";
export type { CwSwitches } from "./rules.ts";
export { DEFAULT_SWITCHES } from "./rules.ts";
export type { SeedName } from "./seed.ts";
export type { CwEmulatorData } from "./state.ts";
