// Checks paysync's Stripe webhook signatures with Stripe's official Node SDK,
// in both directions:
//  - stripe.webhooks.constructEvent verifies deliveries the emulator signed
//    (and refuses them once tampered with, with another secret, or late);
//  - stripe.webhooks.generateTestHeaderString signs a payload that paysync's
//    Go VerifyWebhook must then accept.
//
// Env:
//   STRIPE_WEBHOOK_SECRET      the endpoint secret (whsec_...)
//   STRIPE_WEBHOOK_DELIVERIES  JSON array of {body, signature}: captured
//                              deliveries, body as sent, signature the
//                              Stripe-Signature header
//   STRIPE_SIGN_PAYLOAD        a payload to sign (optional)
//   STRIPE_SIGN_TIMESTAMP      its Unix timestamp in seconds
// Prints one JSON object.
'use strict';

const Stripe = require('stripe');

// No API call is made: the key only satisfies the constructor.
const stripe = new Stripe('sk_test_webhook_check', { telemetry: false });

function failure(fn) {
  try {
    fn();
  } catch (err) {
    return { type: err.type || err.name, message: String(err.message).split('\n')[0] };
  }
  return null;
}

function main() {
  const secret = process.env.STRIPE_WEBHOOK_SECRET;
  if (!secret) {
    throw new Error('STRIPE_WEBHOOK_SECRET is required');
  }
  const deliveries = JSON.parse(process.env.STRIPE_WEBHOOK_DELIVERIES || '[]');

  const verified = deliveries.map(({ body, signature }) => {
    // The raw body as a Buffer, as a webhook handler must pass it.
    const raw = Buffer.from(body, 'utf8');
    const event = stripe.webhooks.constructEvent(raw, signature, secret);
    const object = event.data.object;
    const previous = event.data.previous_attributes || null;
    return {
      id: event.id,
      object: event.object,
      type: event.type,
      api_version: event.api_version,
      created: event.created,
      livemode: event.livemode,
      pending_webhooks: event.pending_webhooks,
      has_request: Object.prototype.hasOwnProperty.call(event, 'request'),
      data_object: object.object,
      data_object_id: object.id,
      customer: object.object === 'customer' ? object.id : object.customer,
      previous_customer: previous ? previous.customer || null : null,
      // The checks a forged or replayed delivery must fail.
      tampered: failure(() => stripe.webhooks.constructEvent(Buffer.concat([raw, Buffer.from(' ')]), signature, secret)),
      other_secret: failure(() => stripe.webhooks.constructEvent(raw, signature, secret + 'x')),
      late: failure(() =>
        stripe.webhooks.constructEvent(raw, signature, secret, undefined, undefined, Date.now() + 10 * 60 * 1000),
      ),
    };
  });

  let generated = null;
  if (process.env.STRIPE_SIGN_PAYLOAD) {
    generated = stripe.webhooks.generateTestHeaderString({
      payload: process.env.STRIPE_SIGN_PAYLOAD,
      secret,
      timestamp: Number(process.env.STRIPE_SIGN_TIMESTAMP),
    });
  }

  process.stdout.write(JSON.stringify({ verified, generated }) + '\n');
}

try {
  main();
} catch (err) {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
}
