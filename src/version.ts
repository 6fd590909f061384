/** The toolchain's version, shared by every persona and the agent. */
export const VERSION = "0.1.0";
