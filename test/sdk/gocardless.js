// Drives the official GoCardless Node SDK (gocardless-nodejs) against a
// GoCardless API, the paysync emulator in tests, and prints one JSON object
// with what the SDK parsed.
//
// Environment: GOCARDLESS_BASE_URL (the API), GOCARDLESS_ACCESS_TOKEN.
'use strict';

const { GoCardlessClient, Environments } = require('gocardless-nodejs');

const baseUrl = process.env.GOCARDLESS_BASE_URL;
const token = process.env.GOCARDLESS_ACCESS_TOKEN;

function client(accessToken) {
  const c = new GoCardlessClient(accessToken, Environments.Sandbox);
  // gocardless-nodejs 10.1.2 has no base URL option: the environment picks
  // api.gocardless.com or api-sandbox.gocardless.com, read from the Api
  // object on every request. Point it at the API under test.
  c._api._baseUrl = baseUrl;
  return c;
}

// errorInfo keeps what the SDK parsed from an error answer.
function errorInfo(e) {
  return {
    class: e.constructor.name,
    type: e.errorType,
    reason: e.errors && e.errors[0] ? e.errors[0].reason : undefined,
    status: e.response ? e.response.statusCode : undefined,
  };
}

async function main() {
  if (!baseUrl || !token) {
    throw new Error('GOCARDLESS_BASE_URL and GOCARDLESS_ACCESS_TOKEN are required');
  }
  const gc = client(token);
  const key = `paysync-sdk-${process.pid}-${Date.now()}`;
  const params = {
    email: 'grace@example.com',
    given_name: 'Grace',
    family_name: 'Hopper',
    country_code: 'GB',
    metadata: { paysync_customer_id: 'cus_sdk', paysync_external_id: 'ext_sdk' },
  };
  const created = await gc.customers.create(params, key);
  // The same key again: the API answers 409 idempotent_creation_conflict and
  // the SDK fetches the conflicting customer instead of failing.
  const repeated = await gc.customers.create(params, key);
  const found = await gc.customers.find(created.id);

  // What a payer completing a flow does, through the emulator's sandbox hook.
  const res = await fetch(`${baseUrl}/_sandbox/customers/${created.id}/mandates`, { method: 'POST' });
  if (res.status !== 201) {
    throw new Error(`attaching a mandate: HTTP ${res.status}: ${await res.text()}`);
  }
  const attached = (await res.json()).mandates;

  const mandates = await gc.mandates.list({
    customer: created.id,
    status: ['pending_customer_approval', 'pending_submission', 'submitted', 'active'],
  });

  // customers.all follows meta.cursors.after across pages.
  await gc.customers.create({ company_name: 'Second Ltd' });
  await gc.customers.create({ company_name: 'Third Ltd' });
  const everyone = [];
  for await (const c of gc.customers.all({ limit: 2 })) {
    everyone.push(c.id);
  }

  let badToken = null;
  try {
    await client('live_not_a_sandbox_token').customers.find(created.id);
  } catch (e) {
    badToken = errorInfo(e);
  }
  let invalid = null;
  try {
    await gc.customers.create({ email: 'not-an-email' });
  } catch (e) {
    invalid = errorInfo(e);
  }

  console.log(JSON.stringify({
    created: { id: created.id, status: created.__response__.statusCode },
    repeated_id: repeated.id,
    found: {
      id: found.id,
      email: found.email,
      given_name: found.given_name,
      family_name: found.family_name,
      metadata: found.metadata,
      created_at: found.created_at,
    },
    attached_id: attached.id,
    mandates: mandates.mandates.map((m) => ({ id: m.id, status: m.status, scheme: m.scheme, customer: m.links.customer })),
    mandates_meta: mandates.meta,
    all_customers: everyone,
    bad_token: badToken,
    invalid: invalid,
  }));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  if (e && e.response && e.response.body) {
    console.error(JSON.stringify(e.response.body));
  }
  process.exit(1);
});
