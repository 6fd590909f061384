/** kestrel's version, reported by /healthz and /v1/status. */
export const KESTREL_VERSION = "0.1.0";
