// Checks paysync's Braintree webhooks against the official Braintree Node SDK
// in both directions and prints, as one JSON object, what the SDK made of
// them. No network is used: the SDK's webhook calls are local.
//
// Env:
//   BRAINTREE_MERCHANT_ID, BRAINTREE_PUBLIC_KEY, BRAINTREE_PRIVATE_KEY
//                      the key pair paysync verifies with
//   OTHER_PUBLIC_KEY, OTHER_PRIVATE_KEY
//                      another merchant's key pair
//   WEBHOOK_DELIVERIES JSON array of {bt_signature, bt_payload} as the
//                      emulator POSTed them: parsed with webhookNotification.parse
//   SAMPLE_KINDS       JSON array of {kind, id}: webhookTesting.sampleNotification
//                      output for each, for paysync to verify
//   WEBHOOK_CHALLENGE  a bt_challenge: webhookNotification.verify's answer
"use strict";

const braintree = require("braintree");

function gateway(publicKey, privateKey) {
  return new braintree.BraintreeGateway({
    environment: braintree.Environment.Sandbox,
    merchantId: process.env.BRAINTREE_MERCHANT_ID,
    publicKey,
    privateKey,
  });
}

// summary is what paysync reads from a notification, as the SDK sees it.
function summary(n) {
  const revoked = n.revokedPaymentMethodMetadata;
  const updated = n.paymentMethodCustomerDataUpdatedMetadata;
  let customerId = null;
  let token = null;
  let paymentMethodType = null;
  if (revoked) {
    customerId = revoked.customerId;
    token = revoked.token;
    paymentMethodType = revoked.revokedPaymentMethod.constructor.name;
  } else if (updated) {
    customerId = updated.paymentMethod.customerId;
    token = updated.token;
    paymentMethodType = updated.paymentMethod.constructor.name;
  }
  return {
    kind: n.kind,
    timestamp: n.timestamp instanceof Date ? n.timestamp.toISOString() : String(n.timestamp),
    customerId,
    token,
    paymentMethodType,
    subscriptionId: n.subscription ? n.subscription.id : null,
  };
}

async function errorOf(promise) {
  try {
    await promise;
    return "none";
  } catch (err) {
    return err.type || String(err);
  }
}

async function main() {
  const env = process.env;
  const gw = gateway(env.BRAINTREE_PUBLIC_KEY, env.BRAINTREE_PRIVATE_KEY);
  const other = gateway(env.OTHER_PUBLIC_KEY, env.OTHER_PRIVATE_KEY);
  const sameKeyOtherSecret = gateway(env.BRAINTREE_PUBLIC_KEY, env.OTHER_PRIVATE_KEY);

  // (a) What the emulator sent, through the SDK's parse.
  const deliveries = JSON.parse(env.WEBHOOK_DELIVERIES || "[]");
  const parsed = [];
  for (const d of deliveries) {
    try {
      parsed.push(summary(await gw.webhookNotification.parse(d.bt_signature, d.bt_payload)));
    } catch (err) {
      parsed.push({ error: err.type || String(err), message: err.message });
    }
  }
  // The same deliveries must fail for another merchant or another secret.
  const rejected = [];
  for (const d of deliveries) {
    rejected.push({
      otherKey: await errorOf(other.webhookNotification.parse(d.bt_signature, d.bt_payload)),
      otherSecret: await errorOf(sameKeyOtherSecret.webhookNotification.parse(d.bt_signature, d.bt_payload)),
    });
  }

  // (b) The SDK's own sample notifications, for paysync to verify.
  const samples = [];
  for (const { kind, id } of JSON.parse(env.SAMPLE_KINDS || "[]")) {
    const sample = gw.webhookTesting.sampleNotification(kind, id);
    samples.push({
      kind,
      id,
      bt_signature: sample.bt_signature,
      bt_payload: sample.bt_payload,
      parsed: summary(await gw.webhookNotification.parse(sample.bt_signature, sample.bt_payload)),
    });
  }
  const otherSample = other.webhookTesting.sampleNotification(
    braintree.WebhookNotification.Kind.PaymentMethodRevokedByCustomer,
    "other_token"
  );

  // The destination URL challenge.
  const challenge = env.WEBHOOK_CHALLENGE || "";
  let badChallenge;
  try {
    gw.webhookNotification.verify("not-hex!" + challenge);
    badChallenge = "none";
  } catch (err) {
    badChallenge = err.type || String(err);
  }

  process.stdout.write(
    JSON.stringify({
      kinds: braintree.WebhookNotification.Kind,
      parsed,
      rejected,
      samples,
      otherSample: { bt_signature: otherSample.bt_signature, bt_payload: otherSample.bt_payload },
      challenge: challenge ? gw.webhookNotification.verify(challenge) : null,
      badChallenge,
    }) + "\n"
  );
}

main().catch((err) => {
  process.stderr.write(String((err && err.stack) || err) + "\n");
  process.exit(1);
});
