/**
 * The terse cpio entry writer, kept at this path for scripts and tests; it
 * lives in src/builder/agent_image/cpio_entries.ts.
 *
 * @module
 */
export { type CpioEntry, writeCpio } from "../src/builder/agent_image/cpio_entries.ts";
