// Drives Flexprice's official TypeScript SDK (@flexprice/sdk 2.0.1, with the
// zod 4 npm resolves for it) against a real `paysync serve`: every customer
// call the SDK offers that paysync serves, asserting what the SDK parsed.
// Prints one line per call, "PASS name" or "FAIL name: reason", and a
// summary line "flexprice-client: N passed, M failed".
//
// Environment: PAYSYNC_URL (the server's base URL), PAYSYNC_API_KEY.
'use strict';

const assert = require('node:assert/strict');
const { Flexprice } = require('@flexprice/sdk');
const { ErrorsErrorsErrorResponse, FlexPriceError } = require('@flexprice/sdk/sdk/models');

const baseUrl = process.env.PAYSYNC_URL;
const apiKey = process.env.PAYSYNC_API_KEY;

let passed = 0;
let failed = 0;

// step runs one call and its assertions, printing its line.
async function step(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`PASS ${name}`);
  } catch (e) {
    failed++;
    const reason = String((e && e.message) || e).split('\n').slice(0, 6).join(' | ');
    console.log(`FAIL ${name}: ${reason}`);
  }
}

// rejects awaits a call that must fail and returns the SDK's error.
async function rejects(call) {
  try {
    await call();
  } catch (e) {
    return e;
  }
  throw new Error('the call succeeded');
}

async function main() {
  if (!baseUrl || !apiKey) {
    throw new Error('PAYSYNC_URL and PAYSYNC_API_KEY are required');
  }
  const flex = new Flexprice({ serverURL: `${baseUrl}/v1`, apiKeyAuth: apiKey });
  const ext = `flex-sdk-${process.pid}`;
  let created;

  await step('createCustomer', async () => {
    created = await flex.customers.createCustomer({
      externalId: ext,
      name: 'Tiffin Labs',
      email: 'billing@tiffin.example',
      addressLine1: '1 Residency Rd',
      addressCity: 'Bengaluru',
      addressCountry: 'IN',
      addressPostalCode: '560025',
      metadata: { plan: 'growth' },
    });
    assert.match(created.id, /\S/);
    assert.equal(created.externalId, ext);
    assert.equal(created.email, 'billing@tiffin.example');
    assert.equal(created.addressCountry, 'IN');
    assert.deepEqual(created.metadata, { plan: 'growth' });
    assert.equal(created.status, 'published');
    assert.equal(created.parentCustomerId, undefined);
    assert.equal(created.parentCustomer, undefined);
  });
  await step('getCustomer', async () => {
    const got = await flex.customers.getCustomer(created.id);
    assert.equal(got.id, created.id);
    assert.equal(got.name, 'Tiffin Labs');
    assert.equal(got.addressCity, 'Bengaluru');
  });
  await step('getCustomerByExternalId', async () => {
    const got = await flex.customers.getCustomerByExternalId(ext);
    assert.equal(got.id, created.id);
    assert.equal(got.email, 'billing@tiffin.example');
  });
  await step('createCustomer second', async () => {
    const other = await flex.customers.createCustomer({ externalId: `${ext}-2`, name: 'Second Co' });
    assert.equal(other.externalId, `${ext}-2`);
  });
  await step('queryCustomer list', async () => {
    const page = await flex.customers.queryCustomer({ limit: 1, offset: 0 });
    assert.equal(page.items.length, 1);
    assert.equal(page.pagination.total, 2);
    assert.equal(page.pagination.limit, 1);
    const rest = await flex.customers.queryCustomer({ limit: 10, offset: 1 });
    assert.equal(rest.items.length, 1);
    assert.notEqual(rest.items[0].id, page.items[0].id);
  });
  await step('queryCustomer search', async () => {
    const page = await flex.customers.queryCustomer({ externalIds: [ext] });
    assert.equal(page.items.length, 1);
    assert.equal(page.items[0].id, created.id);
    assert.equal(page.items[0].email, 'billing@tiffin.example');
  });
  await step('updateCustomer by id', async () => {
    const got = await flex.customers.updateCustomer({ name: 'Tiffin Labs Pvt', metadata: { plan: 'scale' } }, created.id);
    assert.equal(got.id, created.id);
    assert.equal(got.name, 'Tiffin Labs Pvt');
    assert.deepEqual(got.metadata, { plan: 'scale' });
  });
  await step('updateCustomer by external id', async () => {
    const got = await flex.customers.updateCustomer({ email: 'ap@tiffin.example' }, undefined, ext);
    assert.equal(got.id, created.id);
    assert.equal(got.email, 'ap@tiffin.example');
    assert.equal(got.name, 'Tiffin Labs Pvt');
  });
  await step('createCustomer 400 typed error', async () => {
    const e = await rejects(() => flex.customers.createCustomer({ externalId: `${ext}-bad`, email: 'not an email' }));
    assert.ok(e instanceof ErrorsErrorsErrorResponse, `${e.constructor.name}: ${e.message}`);
    assert.equal(e.statusCode, 400);
    assert.equal(e.success, false);
    assert.match(e.message, /validation failed: email/);
    assert.equal(e.error.message, e.message);
  });
  await step('getCustomerByExternalId 404 typed error', async () => {
    const e = await rejects(() => flex.customers.getCustomerByExternalId(`${ext}-nobody`));
    assert.ok(e instanceof ErrorsErrorsErrorResponse, `${e.constructor.name}: ${e.message}`);
    assert.equal(e.statusCode, 404);
    assert.equal(e.message, 'customer not found');
  });
  await step('getCustomer 404', async () => {
    // The SDK maps only 400 and 500 of this operation to its typed error;
    // a 404 is its generic error, which carries the body.
    const e = await rejects(() => flex.customers.getCustomer('0192f0c4-0000-7000-8000-000000000000'));
    assert.ok(e instanceof FlexPriceError, `${e.constructor.name}: ${e.message}`);
    assert.equal(e.statusCode, 404);
    assert.equal(JSON.parse(e.body).error.message, 'customer not found');
  });
  await step('deleteCustomer', async () => {
    await flex.customers.deleteCustomer(created.id);
    const e = await rejects(() => flex.customers.getCustomer(created.id));
    assert.equal(e.statusCode, 404);
  });
  await step('deleteCustomer 404', async () => {
    const e = await rejects(() => flex.customers.deleteCustomer(created.id));
    assert.equal(e.statusCode, 404);
    assert.equal(JSON.parse(e.body).message, 'customer not found');
  });

  console.log(`flexprice-client: ${passed} passed, ${failed} failed`);
}

main().catch((e) => {
  console.log(`FAIL script: ${e && e.stack ? e.stack : e}`);
  console.log(`flexprice-client: ${passed} passed, ${failed + 1} failed`);
});
