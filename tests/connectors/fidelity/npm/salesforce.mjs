// jsforce 3 (a client nobody here wrote) against a fresh Salesforce sandbox.
// Reads SANDBOX_URL and SANDBOX_TOKEN; trusts the sandbox's CA through NODE_EXTRA_CA_CERTS.
// Prints one JSON line per check and exits 1 when any check fails.
import jsforce from "jsforce";

const conn = new jsforce.Connection({
  instanceUrl: process.env.SANDBOX_URL,
  accessToken: process.env.SANDBOX_TOKEN,
  version: "59.0",
});
let failed = false;

async function check(name, run) {
  try {
    const detail = await run();
    console.log(JSON.stringify({ check: name, ok: true, detail }));
  } catch (error) {
    failed = true;
    console.log(JSON.stringify({ check: name, ok: false, detail: String(error?.stack || error) }));
  }
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

await check("identity", async () => {
  const me = await conn.identity();
  expect(me.username && me.user_id && me.organization_id, "identity lacks its user or org");
  return me.username;
});

await check("standard stages", async () => {
  const result = await conn.query("SELECT MasterLabel FROM OpportunityStage ORDER BY SortOrder");
  const labels = result.records.map((r) => r.MasterLabel);
  expect(labels[0] === "Prospecting" && labels.at(-1) === "Closed Lost", labels.join(", "));
  return labels.length;
});

await check("collections with allOrNone", async () => {
  const results = await conn
    .sobject("Account")
    .create([{ Name: "jsforce one" }, { Name: "jsforce two" }], { allOrNone: true });
  expect(results.every((r) => r.success && r.id.startsWith("001")), JSON.stringify(results));
  return results.length;
});

await check("query paging", async () => {
  const result = await conn.query("SELECT Id, Name FROM Account ORDER BY Name").run({
    autoFetch: true,
  });
  expect(result.totalSize === result.records.length, "paging lost records");
  return result.totalSize;
});

await check("aggregate", async () => {
  const result = await conn.query("SELECT COUNT(Id) n, MAX(Name) last FROM Account");
  const [row] = result.records;
  expect(row.attributes.type === "AggregateResult" && row.n >= 2, JSON.stringify(row));
  return row.n;
});

await check("limits", async () => {
  const limits = await conn.limits();
  for (const key of ["DailyApiRequests", "DailyBulkApiBatches", "DailyBulkV2QueryJobs"]) {
    expect(limits[key] && limits[key].Max > 0, `limits lack ${key}`);
  }
  return Object.keys(limits).length;
});

await check("bulk 2.0 query polls to JobComplete", async () => {
  const records = await conn.bulk2.query("SELECT Id, Name FROM Account", {
    pollInterval: 200,
    pollTimeout: 30000,
  });
  const rows = await records.toArray();
  expect(rows.length >= 2, `bulk query returned ${rows.length} rows`);
  return rows.length;
});

await check("describe", async () => {
  const described = await conn.sobject("Opportunity").describe();
  expect(described.fields.some((f) => f.name === "StageName"), "no StageName");
  return described.fields.length;
});

process.exit(failed ? 1 : 0);
