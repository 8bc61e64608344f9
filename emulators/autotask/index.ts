export { startAutotaskEmulator, DEMO_API_USER } from "./server.ts";
export type { AutotaskEmulator, AutotaskEmulatorOptions, AutotaskEmulatorState } from "./server.ts";
export type { ApiUser } from "./routes.ts";
export type { AutotaskEmulatorSwitches } from "./rules.ts";
export { DEFAULT_SWITCHES } from "./rules.ts";
export type { AutotaskEmulatorLimits } from "./limits.ts";
export { DEFAULT_LIMITS } from "./limits.ts";
export type { SeedName } from "./seed.ts";
export type { FaultRule } from "../kit.ts";
