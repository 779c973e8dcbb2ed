-- Sensor readings, synced by the daemon (its config lists the table).
-- cloudsync needs a primary key that is unique across devices: a UUID text
-- key (sensor.ts uses the extension's cloudsync_uuid()), never an INTEGER
-- rowid, and every NOT NULL column needs a default.
CREATE TABLE IF NOT EXISTS readings (
  id       TEXT PRIMARY KEY NOT NULL,
  sensor   TEXT NOT NULL DEFAULT '',
  taken_at TEXT NOT NULL DEFAULT '',   -- ISO 8601, UTC
  celsius  REAL,
  humidity REAL
);
