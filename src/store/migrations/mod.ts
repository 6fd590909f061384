/**
 * The ordered list of migrations. Add a file `NNNN_name.ts` exporting `name`
 * and `sql`, then append it here; versions must increase by one.
 *
 * @module
 */
import * as m0001 from "./0001_initial.ts";
import * as m0002 from "./0002_plugin_signature.ts";
import * as m0003 from "./0003_deployments.ts";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: m0001.name, sql: m0001.sql },
  { version: 2, name: m0002.name, sql: m0002.sql },
  { version: 3, name: m0003.name, sql: m0003.sql },
];
