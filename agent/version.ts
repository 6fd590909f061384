import { VERSION } from "../src/shared/version.ts";

/** kestrel's version, reported by /healthz and /v1/status: the toolchain's. */
export const KESTREL_VERSION: string = VERSION;
