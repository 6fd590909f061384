/**
 * The newc reader, shared with the daemon (which inspects installed
 * initramfs images): it lives in src/initramfs/newc_read.ts.
 *
 * @module
 */
export { type NewcRecord, readNewc } from "../initramfs/newc_read.ts";
