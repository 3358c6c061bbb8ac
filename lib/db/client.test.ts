import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openDb } from "./client";

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe("openDb", () => {
  it("makes transactions take the write lock up front, so a reader-turned-writer cannot hit SQLITE_BUSY", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-db-"));
    dirs.push(dir);
    const file = path.join(dir, "t.sqlite");
    const a = openDb(file);
    const b = openDb(file);
    a.$client.exec("create table t (n integer)");
    // Inside a's transaction, b cannot even start one: with IMMEDIATE it waits for the lock (and here,
    // with a short timeout, gives up with SQLITE_BUSY before reading a snapshot that a's commit
    // would make stale). Under DEFERRED, b's read would succeed and its later write would fail.
    b.$client.pragma("busy_timeout = 50");
    a.transaction(() => {
      a.$client.prepare("insert into t values (1)").run();
      expect(() => b.transaction(() => b.$client.prepare("select count(*) from t").get())).toThrow(/locked|busy/i);
    });
    expect(b.transaction(() => b.$client.prepare("select count(*) as n from t").get())).toEqual({ n: 1 });
    a.$client.close();
    b.$client.close();
  });
});
