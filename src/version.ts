/** The toolchain's version, shared by every persona and the agent (src/shared/version.ts). */
export { VERSION } from "./shared/version.ts";
