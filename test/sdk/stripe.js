// Drives paysync's Stripe emulator with Stripe's official Node SDK, so that
// the emulator's wire format is checked by the provider's own client.
//
// Env: STRIPE_URL (the emulator's base URL), STRIPE_KEY (a sk_test_ key).
// Prints one JSON object with what the SDK parsed.
'use strict';

const Stripe = require('stripe');

async function main() {
  const base = new URL(process.env.STRIPE_URL);
  const key = process.env.STRIPE_KEY || 'sk_test_sdk';
  const stripe = new Stripe(key, {
    host: base.hostname,
    port: Number(base.port),
    protocol: base.protocol.replace(':', ''),
    maxNetworkRetries: 0,
    telemetry: false,
  });

  const created = await stripe.customers.create(
    {
      name: 'SDK Customer',
      email: 'sdk@example.com',
      address: {
        line1: '1 Rue de la Paix',
        line2: 'Bat. B',
        city: 'Paris',
        postal_code: '75002',
        country: 'FR',
      },
      preferred_locales: ['fr', 'en'],
      metadata: { paysync_external_id: 'ext-sdk-1', plan: 'gold' },
    },
    { idempotencyKey: 'sdk-create-1' },
  );
  // The same key and parameters must give back the same customer.
  const replayed = await stripe.customers.create(
    {
      name: 'SDK Customer',
      email: 'sdk@example.com',
      address: {
        line1: '1 Rue de la Paix',
        line2: 'Bat. B',
        city: 'Paris',
        postal_code: '75002',
        country: 'FR',
      },
      preferred_locales: ['fr', 'en'],
      metadata: { paysync_external_id: 'ext-sdk-1', plan: 'gold' },
    },
    { idempotencyKey: 'sdk-create-1' },
  );

  const retrieved = await stripe.customers.retrieve(created.id);

  const attach = await fetch(`${process.env.STRIPE_URL}/_sandbox/customers/${created.id}/payment_methods`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}` },
  });
  if (!attach.ok) {
    throw new Error(`attach payment method: HTTP ${attach.status}`);
  }

  const methods = await stripe.customers.listPaymentMethods(created.id, { limit: 10 });
  const found = await stripe.customers.search({
    query: `metadata['paysync_external_id']:'ext-sdk-1'`,
  });

  let missing = null;
  try {
    await stripe.customers.retrieve('cus_doesnotexist');
  } catch (err) {
    missing = { type: err.type, code: err.code, status: err.statusCode, param: err.param };
  }

  const deleted = await stripe.customers.del(created.id);
  const afterDelete = await stripe.customers.retrieve(created.id);

  process.stdout.write(
    JSON.stringify({
      id: created.id,
      object: created.object,
      livemode: created.livemode,
      replayed_id: replayed.id,
      replayed_header: replayed.lastResponse.headers['idempotent-replayed'] || null,
      email: retrieved.email,
      name: retrieved.name,
      address: retrieved.address,
      preferred_locales: retrieved.preferred_locales,
      metadata: retrieved.metadata,
      default_payment_method: retrieved.invoice_settings.default_payment_method,
      payment_methods: methods.data.map((pm) => ({ id: pm.id, type: pm.type, customer: pm.customer, last4: pm.card.last4 })),
      payment_methods_object: methods.object,
      search_ids: found.data.map((c) => c.id),
      search_object: found.object,
      missing,
      deleted: { id: deleted.id, deleted: deleted.deleted },
      after_delete: { id: afterDelete.id, deleted: afterDelete.deleted },
    }) + '\n',
  );
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
