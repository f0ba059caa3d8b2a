// Checks GoCardless webhook signatures with the official Node SDK
// (gocardless-nodejs), both ways, and prints one JSON object:
//
//  1. The webhook the paysync emulator delivered (GC_DELIVERED_BODY_B64, raw
//     body in base64, and GC_DELIVERED_SIGNATURE, its Webhook-Signature)
//     goes through webhooks.parse, as the SDK's README handles a delivery;
//     the same body with a signature made with another secret, and an
//     altered body with the real signature, must throw InvalidSignatureError.
//  2. A webhook is signed here the way the SDK verifies one (hex HMAC-SHA256
//     of the raw body keyed with the endpoint secret, crypto.createHmac),
//     for paysync's Go VerifyWebhook to check: a mandates.cancelled event
//     for GC_MANDATE_ID.
//
// Environment: GC_WEBHOOK_SECRET, GC_DELIVERED_BODY_B64,
// GC_DELIVERED_SIGNATURE, GC_MANDATE_ID.
'use strict';

const crypto = require('crypto');
const webhooks = require('gocardless-nodejs/webhooks');

const secret = process.env.GC_WEBHOOK_SECRET;
const deliveredB64 = process.env.GC_DELIVERED_BODY_B64;
const deliveredSig = process.env.GC_DELIVERED_SIGNATURE;
const mandateID = process.env.GC_MANDATE_ID;

// attempt runs fn and reports whether the SDK rejected the signature.
function attempt(fn) {
  try {
    const events = fn();
    return { accepted: true, events };
  } catch (e) {
    if (e instanceof webhooks.InvalidSignatureError && e.name === 'InvalidSignatureError') {
      return { accepted: false, error: e.name };
    }
    throw e;
  }
}

function main() {
  if (!secret || !deliveredB64 || !deliveredSig || !mandateID) {
    throw new Error('GC_WEBHOOK_SECRET, GC_DELIVERED_BODY_B64, GC_DELIVERED_SIGNATURE and GC_MANDATE_ID are required');
  }
  // 1. The emulator's delivery, byte for byte.
  const delivered = Buffer.from(deliveredB64, 'base64');
  const parsed = attempt(() => webhooks.parseWithMeta(delivered, secret, deliveredSig));
  const otherSecretSig = crypto.createHmac('sha256', 'not-the-endpoint-secret').update(delivered).digest('hex');
  const forged = attempt(() => webhooks.parse(delivered, secret, otherSecretSig));
  const altered = Buffer.from(delivered.toString('utf8').replace('"mandates"', '"payments"'), 'utf8');
  if (altered.equals(delivered)) {
    throw new Error('the delivered body has no "mandates" to alter');
  }
  const tampered = attempt(() => webhooks.parse(altered, secret, deliveredSig));
  const garbage = attempt(() => webhooks.parse(delivered, secret, 'NOTVERYCONVINCING'));

  // 2. A webhook signed here, shaped as GoCardless sends a cancellation.
  const body = JSON.stringify({
    events: [
      {
        id: 'EVNODE' + crypto.randomBytes(4).toString('hex').toUpperCase(),
        created_at: new Date().toISOString(),
        resource_type: 'mandates',
        action: 'cancelled',
        links: { mandate: mandateID },
        details: {
          origin: 'bank',
          cause: 'mandate_cancelled',
          description: 'The mandate was cancelled at a bank branch.',
        },
        metadata: {},
      },
    ],
    meta: { webhook_id: 'WBNODE' + crypto.randomBytes(4).toString('hex').toUpperCase() },
  });
  const signature = crypto.createHmac('sha256', secret).update(body).digest('hex');
  // The SDK accepts what was signed here: the same scheme.
  const selfCheck = attempt(() => webhooks.parse(body, secret, signature));

  console.log(JSON.stringify({
    delivered: {
      accepted: parsed.accepted,
      webhook_id: parsed.accepted ? parsed.events.webhookId : null,
      events: parsed.accepted
        ? parsed.events.events.map((e) => ({
            id: e.id,
            created_at: e.created_at,
            resource_type: e.resource_type,
            action: e.action,
            links: e.links,
            details: e.details,
          }))
        : [],
    },
    other_secret: forged,
    altered_body: tampered,
    garbage_signature: garbage,
    signed: {
      body_b64: Buffer.from(body, 'utf8').toString('base64'),
      signature,
      sdk_accepts: selfCheck.accepted,
    },
  }));
}

try {
  main();
} catch (e) {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
}
