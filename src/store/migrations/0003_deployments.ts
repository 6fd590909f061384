/**
 * Migration 0003: deployments get what their controller needs: a revision
 * (bumped by each config change) with its history for rollback, rolling
 * update limits, conditions, a delete intent, and the replica table that
 * says which VM belongs to which deployment (written before the VM is
 * created, removed after it is deleted, so a crash in between leaks nothing).
 *
 * @module
 */
export const name = "deployments";

export const sql = `
ALTER TABLE deployments ADD COLUMN revision INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1);
ALTER TABLE deployments ADD COLUMN stable_revision INTEGER NOT NULL DEFAULT 1;
ALTER TABLE deployments ADD COLUMN failed_revision INTEGER;
ALTER TABLE deployments ADD COLUMN max_unavailable INTEGER NOT NULL DEFAULT 0
  CHECK (max_unavailable >= 0);
ALTER TABLE deployments ADD COLUMN max_surge INTEGER NOT NULL DEFAULT 1 CHECK (max_surge >= 0);
ALTER TABLE deployments ADD COLUMN deleting INTEGER NOT NULL DEFAULT 0 CHECK (deleting IN (0, 1));
ALTER TABLE deployments ADD COLUMN conditions_json TEXT NOT NULL DEFAULT '[]';

CREATE TABLE deployment_revisions (
  deployment_id INTEGER NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
  revision INTEGER NOT NULL,
  config_json TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (deployment_id, revision)
);

-- vm is the replica's VM name (<deployment>-<ordinal>); one owner per VM name.
CREATE TABLE deployment_replicas (
  vm TEXT PRIMARY KEY,
  deployment_id INTEGER NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
  ordinal INTEGER NOT NULL CHECK (ordinal >= 1),
  revision INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (deployment_id, ordinal)
);
`;
