/**
 * Migration 0001: the initial schema. SQL kept in a TS string so `deno
 * compile` and `deno bundle` carry it without reading files at run time.
 *
 * @module
 */
export const name = "initial";

export const sql = `
CREATE TABLE plugins (
  name TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  runtime TEXT NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  allow_unverified INTEGER NOT NULL DEFAULT 0 CHECK (allow_unverified IN (0, 1)),
  source TEXT NOT NULL,
  manifest_json TEXT NOT NULL,
  installed_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE artifacts (
  plugin TEXT NOT NULL REFERENCES plugins(name) ON DELETE CASCADE,
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('initramfs', 'rootfs', 'disk', 'kernel')),
  url TEXT NOT NULL,
  sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
  verified INTEGER NOT NULL CHECK (verified IN (0, 1)),
  size INTEGER NOT NULL CHECK (size >= 0),
  path TEXT NOT NULL,
  PRIMARY KEY (plugin, name)
);
CREATE INDEX artifacts_sha256 ON artifacts(sha256);

CREATE TABLE vms (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL CHECK (state IN
    ('created', 'starting', 'running', 'stopping', 'stopped', 'crashed', 'deleting')),
  desired TEXT NOT NULL DEFAULT 'stopped' CHECK (desired IN ('running', 'stopped')),
  plugin TEXT NOT NULL,
  runtime TEXT NOT NULL,
  ip TEXT NOT NULL,
  mac TEXT NOT NULL,
  cpu_cores INTEGER NOT NULL CHECK (cpu_cores > 0),
  memory_mb INTEGER NOT NULL CHECK (memory_mb > 0),
  pid INTEGER,
  pid_start_time TEXT,
  tap TEXT NOT NULL DEFAULT '',
  machine TEXT NOT NULL CHECK (machine IN ('microvm', 'q35')),
  restart_policy TEXT NOT NULL CHECK (restart_policy IN ('never', 'on-failure', 'always')),
  health TEXT NOT NULL DEFAULT 'unknown'
    CHECK (health IN ('unknown', 'starting', 'healthy', 'unhealthy')),
  kernel_cmdline TEXT NOT NULL DEFAULT '',
  serial_socket TEXT,
  restarts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  -- The plugin's artifacts as of create: the VM boots from these blobs, and
  -- they are kept while the VM exists even if the plugin is updated or removed.
  artifacts_json TEXT NOT NULL DEFAULT '[]',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX vms_state ON vms(state);
CREATE INDEX vms_plugin ON vms(plugin);
CREATE INDEX vms_created ON vms(created_at, id);

-- ip is the address as a 32-bit number: numeric order for free, one lease per
-- address and one per VM, gone with the VM row.
CREATE TABLE ip_leases (
  ip INTEGER PRIMARY KEY,
  vm_id INTEGER NOT NULL UNIQUE REFERENCES vms(id) ON DELETE CASCADE,
  leased_at TEXT NOT NULL
);

CREATE TABLE deployments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  replicas INTEGER NOT NULL CHECK (replicas >= 0),
  config_json TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE vm_configs (
  vm_id INTEGER PRIMARY KEY REFERENCES vms(id) ON DELETE CASCADE,
  version INTEGER NOT NULL CHECK (version >= 1),
  config_json TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE vm_config_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  vm_id INTEGER NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  config_json TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (vm_id, version)
);

CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource TEXT NOT NULL,
  time TEXT NOT NULL,
  data_json TEXT NOT NULL
);
CREATE INDEX events_resource ON events(resource, id);
`;
