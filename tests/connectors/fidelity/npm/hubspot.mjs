// HubSpot's official Node client against a fresh HubSpot sandbox, started with a real portal's
// defaults (rate limits enforced, search lagging writes). Reads SANDBOX_URL, SANDBOX_TOKEN and
// SANDBOX_SEARCH_LAG (seconds). Prints one JSON line per check; exits 1 when any check fails.
import { Client } from "@hubspot/api-client";

const client = new Client({
  accessToken: process.env.SANDBOX_TOKEN,
  basePath: process.env.SANDBOX_URL,
  numberOfApiCallRetries: 3,
});
const lagSeconds = Number(process.env.SANDBOX_SEARCH_LAG || "0");
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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const tag = `node${Date.now()}`;
let dealId;

await check("create and update a deal", async () => {
  const created = await client.crm.deals.basicApi.create({
    properties: { dealname: `${tag} first`, amount: "100" },
  });
  dealId = created.id;
  await client.crm.deals.basicApi.update(dealId, { properties: { dealname: `${tag} second` } });
  return dealId;
});

await check("propertiesWithHistory on a single read", async () => {
  const deal = await client.crm.deals.basicApi.getById(dealId, ["dealname"], ["dealname"]);
  const values = deal.propertiesWithHistory.dealname.map((v) => v.value);
  expect(values[0] === `${tag} second` && values[1] === `${tag} first`, values.join(" | "));
  return values.length;
});

await check("propertiesWithHistory on a batch read", async () => {
  const batch = await client.crm.deals.batchApi.read({
    inputs: [{ id: dealId }],
    properties: ["amount"],
    propertiesWithHistory: ["dealname"],
  });
  const history = batch.results[0].propertiesWithHistory.dealname;
  expect(history.length === 2 && history[0].sourceType, JSON.stringify(history));
  return history.length;
});

await check("search query finds the deal by name once the index catches up", async () => {
  const request = { query: tag, filterGroups: [], properties: ["dealname"], limit: 10 };
  const deadline = Date.now() + (lagSeconds + 10) * 1000;
  let found;
  do {
    found = await client.crm.deals.searchApi.doSearch(request);
    if (found.total) break;
    await sleep(250);
  } while (Date.now() < deadline);
  expect(found.total === 1 && found.results[0].id === dealId, JSON.stringify(found));
  return found.total;
});

await check("search query ignores properties that are not searchable", async () => {
  const found = await client.crm.deals.searchApi.doSearch({
    query: "100",
    filterGroups: [{ filters: [{ propertyName: "hs_object_id", operator: "EQ", value: dealId }] }],
    limit: 10,
  });
  expect(found.total === 0, "an amount matched the free-text query");
  return found.total;
});

await check("pipelines and owners", async () => {
  const pipelines = await client.crm.pipelines.pipelinesApi.getAll("deals");
  expect(pipelines.results.length >= 1, "no deal pipeline");
  const owners = await client.crm.owners.ownersApi.getPage();
  return { pipelines: pipelines.results.length, owners: owners.results.length };
});

process.exit(failed ? 1 : 0);
