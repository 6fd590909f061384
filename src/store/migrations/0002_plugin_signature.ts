/**
 * Migration 0002: who signed a plugin's manifest (the verified minisign
 * signature as JSON; NULL = installed unsigned).
 *
 * @module
 */
export const name = "plugin_signature";

export const sql = `
ALTER TABLE plugins ADD COLUMN signature_json TEXT;
`;
