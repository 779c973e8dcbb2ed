/**
 * The sensor side of the IoT example: appends a reading to the synced
 * `readings` table every few seconds. It only writes locally; the daemon
 * (`sqlite-sync daemon --config sqlite-sync.jsonc`) sends the changes every
 * minute and keeps them queued while the network is down.
 *
 *   deno run -A examples/iot_daemon/sensor.ts <database> [--every <ms>] [--count <n>] [--sensor <name>]
 *   bun examples/iot_daemon/sensor.ts /var/lib/sqlite-sync/sensors.db
 *
 * The readings are simulated (a slow sine with noise); on a Pi, read a real
 * sensor (e.g. a DHT22 or BME280 through /sys or i2c) in `measure()`.
 *
 * It opens the database with the extension loaded (the synced table's
 * triggers need it), in WAL mode next to the daemon's connection, and
 * enables sync on `readings` when the daemon has not done it yet.
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { parseArgs } from "node:util";
import { SyncDatabase } from "../../mod.ts";

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: {
    every: { type: "string", default: "5000" },
    count: { type: "string", default: "0" },
    sensor: { type: "string", default: "greenhouse-1" },
  },
});
const path = positionals[0];
const every = Number(values.every);
const count = Number(values.count);
if (!path || !(every >= 10) || !(count >= 0)) {
  console.error(
    "usage: sensor.ts <database> [--every <ms ≥ 10>] [--count <n, 0 = forever>] [--sensor <name>]",
  );
  process.exit(2);
}

const db = await SyncDatabase.open(path, { journalMode: "wal" });
db.exec(readFileSync(new URL("./schema.sql", import.meta.url), "utf8"));
if (!db.syncedTables().includes("readings")) db.init("readings");

function measure(t: number): { celsius: number; humidity: number } {
  const phase = (t / 600_000) * 2 * Math.PI; // a 10-minute "day"
  return {
    celsius: Math.round((21 + 4 * Math.sin(phase) + (Math.random() - 0.5)) * 10) / 10,
    humidity: Math.round((55 - 10 * Math.sin(phase) + 2 * (Math.random() - 0.5)) * 10) / 10,
  };
}

let written = 0;
const write = () => {
  const now = Date.now();
  const { celsius, humidity } = measure(now);
  db.run(
    "INSERT INTO readings (id, sensor, taken_at, celsius, humidity) VALUES (?, ?, ?, ?, ?)",
    db.uuid(),
    values.sensor,
    new Date(now).toISOString(),
    celsius,
    humidity,
  );
  written++;
  console.log(
    JSON.stringify({ event: "reading", sensor: values.sensor, celsius, humidity, written }),
  );
  if (count > 0 && written >= count) {
    clearInterval(timer);
    db.close();
  }
};
const timer = setInterval(write, every);
write();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    clearInterval(timer);
    db.close();
    process.exit(0);
  });
}
