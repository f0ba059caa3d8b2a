// Drives Lago's official JavaScript client (lago-javascript-client 1.53.0)
// against a real `paysync serve`: every customer and webhook-endpoint call
// the client offers that paysync serves, asserting what the client parsed.
// Prints one line per call, "PASS name" or "FAIL name: reason", a line
// "PUBLIC_KEY <base64 PEM>" with the key fetchPublicKey returned (the Go
// test verifies the JWT deliveries with it) and a summary line
// "lago-client: N passed, M failed".
//
// Environment: PAYSYNC_URL (the server's base URL), PAYSYNC_API_KEY,
// WEBHOOK_URL (where the test receives webhooks).
'use strict';

const assert = require('node:assert/strict');
const { Client, getLagoError } = require('lago-javascript-client');

const baseUrl = process.env.PAYSYNC_URL;
const apiKey = process.env.PAYSYNC_API_KEY;
const webhookUrl = process.env.WEBHOOK_URL;

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
    let reason = e && e.message ? e.message : e;
    if (e && typeof e.status === 'number') {
      // The client throws the HTTP response itself.
      reason = `HTTP ${e.status}: ${JSON.stringify(e.error)}`;
    }
    console.log(`FAIL ${name}: ${String(reason).split('\n').slice(0, 6).join(' | ')}`);
  }
}

// rejects awaits a call that must fail and returns the response it threw.
async function rejects(call) {
  try {
    await call();
  } catch (e) {
    return e;
  }
  throw new Error('the call succeeded');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  if (!baseUrl || !apiKey || !webhookUrl) {
    throw new Error('PAYSYNC_URL, PAYSYNC_API_KEY and WEBHOOK_URL are required');
  }
  const lago = Client(apiKey, { baseUrl: `${baseUrl}/api/v1` });
  const ext = `lago-sdk-${process.pid}`;
  let endpoint;
  let hmacEndpoint;

  // The endpoints first, so that the customer calls below are delivered.
  await step('createWebhookEndpoint default (jwt)', async () => {
    const { data } = await lago.webhookEndpoints.createWebhookEndpoint({
      webhook_endpoint: { webhook_url: `${webhookUrl}/jwt`, name: 'jwt sink' },
    });
    endpoint = data.webhook_endpoint;
    assert.match(endpoint.lago_id, /\S/);
    assert.equal(endpoint.webhook_url, `${webhookUrl}/jwt`);
    assert.equal(endpoint.signature_algo, 'jwt');
    assert.equal(endpoint.name, 'jwt sink');
  });
  await step('createWebhookEndpoint hmac with event_types', async () => {
    const { data } = await lago.webhookEndpoints.createWebhookEndpoint({
      webhook_endpoint: { webhook_url: `${webhookUrl}/hmac`, signature_algo: 'hmac', event_types: ['customer.created'] },
    });
    hmacEndpoint = data.webhook_endpoint;
    assert.equal(hmacEndpoint.signature_algo, 'hmac');
    assert.deepEqual(hmacEndpoint.event_types, ['customer.created']);
  });
  await step('findWebhookEndpoint', async () => {
    const { data } = await lago.webhookEndpoints.findWebhookEndpoint(endpoint.lago_id);
    assert.equal(data.webhook_endpoint.lago_id, endpoint.lago_id);
    assert.equal(data.webhook_endpoint.webhook_url, `${webhookUrl}/jwt`);
  });
  await step('findAllWebhookEndpoints', async () => {
    const { data } = await lago.webhookEndpoints.findAllWebhookEndpoints({ page: 1, per_page: 10 });
    const ids = data.webhook_endpoints.map((e) => e.lago_id);
    assert.ok(ids.includes(endpoint.lago_id), `ids ${ids}`);
    assert.equal(data.meta.current_page, 1);
  });
  await step('updateWebhookEndpoint', async () => {
    const { data } = await lago.webhookEndpoints.updateWebhookEndpoint(endpoint.lago_id, {
      webhook_endpoint: { webhook_url: `${webhookUrl}/jwt`, name: 'renamed sink', signature_algo: 'jwt' },
    });
    assert.equal(data.webhook_endpoint.lago_id, endpoint.lago_id);
    assert.equal(data.webhook_endpoint.name, 'renamed sink');
  });
  await step('fetchPublicKey', async () => {
    const { data } = await lago.webhooks.fetchPublicKey();
    const pem = Buffer.from(data, 'base64').toString('utf8');
    assert.match(pem, /^-----BEGIN PUBLIC KEY-----/);
    // Lago breaks the base64 into lines; one line for the Go test to read.
    console.log(`PUBLIC_KEY ${data.replace(/\s+/g, '')}`);
  });
  await step('fetchJsonPublicKey', async () => {
    const { data } = await lago.webhooks.fetchJsonPublicKey();
    const pem = Buffer.from(data.webhook.public_key, 'base64').toString('utf8');
    assert.match(pem, /^-----BEGIN PUBLIC KEY-----/);
  });

  let created;
  await step('createCustomer with sync', async () => {
    const { data } = await lago.customers.createCustomer({
      customer: {
        external_id: ext,
        name: 'Gavin Belson',
        email: 'gavin@hooli.test',
        currency: 'USD',
        country: 'US',
        billing_entity_code: 'hooli-us',
        external_salesforce_id: 'sf-001',
        skip_invoice_custom_sections: true,
        metadata: [{ key: 'po', value: '123', display_in_invoice: true }],
        billing_configuration: {
          payment_provider: 'stripe',
          sync: true,
          sync_with_provider: true,
          subscription_invoice_issuing_date_anchor: 'current_period_end',
          subscription_invoice_issuing_date_adjustment: 'keep_anchor',
        },
      },
    });
    created = data.customer;
    assert.match(created.lago_id, /\S/);
    assert.equal(created.external_id, ext);
    assert.equal(created.email, 'gavin@hooli.test');
    assert.equal(created.billing_configuration.payment_provider, 'stripe');
    assert.equal(created.billing_entity_code, 'hooli-us');
    assert.equal(created.external_salesforce_id, 'sf-001');
    assert.equal(created.skip_invoice_custom_sections, true);
    assert.equal(created.billing_configuration.subscription_invoice_issuing_date_anchor, 'current_period_end');
    assert.equal(created.billing_configuration.subscription_invoice_issuing_date_adjustment, 'keep_anchor');
    assert.equal(created.metadata[0].key, 'po');
  });
  await step('findCustomer', async () => {
    // The provider customer is created by the worker: wait for it.
    let c;
    for (let i = 0; i < 150; i++) {
      ({ data: { customer: c } } = await lago.customers.findCustomer(ext));
      if (c.billing_configuration.provider_customer_id) break;
      await sleep(200);
    }
    assert.equal(c.lago_id, created.lago_id);
    assert.match(c.billing_configuration.provider_customer_id, /^cus_/);
    assert.equal(c.billing_entity_code, 'hooli-us');
  });
  await step('createCustomer second', async () => {
    const { data } = await lago.customers.createCustomer({ customer: { external_id: `${ext}-2`, name: 'Second' } });
    assert.equal(data.customer.external_id, `${ext}-2`);
  });
  await step('findAllCustomers paging', async () => {
    const first = (await lago.customers.findAllCustomers({ page: 1, per_page: 1 })).data;
    assert.equal(first.customers.length, 1);
    assert.equal(first.meta.total_count, 2);
    assert.equal(first.meta.total_pages, 2);
    assert.equal(first.meta.next_page, 2);
    const second = (await lago.customers.findAllCustomers({ page: 2, per_page: 1 })).data;
    assert.equal(second.customers.length, 1);
    assert.equal(second.meta.prev_page, 1);
    const ids = [first.customers[0].external_id, second.customers[0].external_id].sort();
    assert.deepEqual(ids, [ext, `${ext}-2`].sort());
  });
  await step('update via createCustomer', async () => {
    const { data } = await lago.customers.createCustomer({
      customer: { external_id: ext, name: 'Gavin Belson Jr', external_salesforce_id: null },
    });
    assert.equal(data.customer.lago_id, created.lago_id);
    assert.equal(data.customer.name, 'Gavin Belson Jr');
    assert.equal(data.customer.email, 'gavin@hooli.test');
    assert.equal(data.customer.external_salesforce_id, null);
  });
  await step('generateCustomerCheckoutUrl', async () => {
    const { data } = await lago.customers.generateCustomerCheckoutUrl(ext);
    assert.equal(data.customer.external_customer_id, ext);
    assert.equal(data.customer.payment_provider, 'stripe');
    assert.match(data.customer.checkout_url, /^https?:\/\//);
  });
  await step('getCustomerPortalUrl', async () => {
    const { data } = await lago.customers.getCustomerPortalUrl(ext);
    assert.match(data.customer.portal_url, /^https?:\/\//);
  });
  await step('findCustomer 404', async () => {
    const e = await rejects(() => lago.customers.findCustomer(`${ext}-nobody`));
    assert.equal(e.status, 404);
    const err = await getLagoError(e);
    assert.equal(err.status, 404);
    assert.equal(err.error, 'Not Found');
    assert.equal(err.code, 'customer_not_found');
  });
  await step('createCustomer 422', async () => {
    const e = await rejects(() => lago.customers.createCustomer({
      customer: { external_id: `${ext}-bad`, email: 'not an email', billing_configuration: { subscription_invoice_issuing_date_anchor: 'someday' } },
    }));
    assert.equal(e.status, 422);
    const err = await getLagoError(e);
    assert.equal(err.code, 'validation_errors');
    assert.deepEqual(err.error_details.email, ['invalid_email_format']);
    assert.deepEqual(err.error_details.subscription_invoice_issuing_date_anchor, ['value_is_invalid']);
  });
  await step('destroyCustomer', async () => {
    const { data } = await lago.customers.destroyCustomer(`${ext}-2`);
    assert.equal(data.customer.external_id, `${ext}-2`);
    const e = await rejects(() => lago.customers.findCustomer(`${ext}-2`));
    assert.equal(e.status, 404);
  });
  await step('destroyWebhookEndpoint', async () => {
    const { data } = await lago.webhookEndpoints.destroyWebhookEndpoint(hmacEndpoint.lago_id);
    assert.equal(data.webhook_endpoint.lago_id, hmacEndpoint.lago_id);
    const e = await rejects(() => lago.webhookEndpoints.findWebhookEndpoint(hmacEndpoint.lago_id));
    assert.equal(e.status, 404);
  });

  console.log(`lago-client: ${passed} passed, ${failed} failed`);
}

main().catch((e) => {
  console.log(`FAIL script: ${e && e.stack ? e.stack : e}`);
  console.log(`lago-client: ${passed} passed, ${failed + 1} failed`);
});
