// Drives paysync's Braintree emulator with the official Braintree Node SDK
// and prints, as one JSON object, what the SDK parsed from its answers.
//
// Env: BRAINTREE_URL (http://host:port of the emulator), BRAINTREE_MERCHANT_ID,
// BRAINTREE_PUBLIC_KEY, BRAINTREE_PRIVATE_KEY, CUSTOMER_ID.
"use strict";

const braintree = require("braintree");

function gateway(privateKey) {
  const url = new URL(process.env.BRAINTREE_URL);
  // The SDK takes host and port apart; ssl=false speaks plain HTTP. The
  // auth URL is only used for OAuth, which this script does not touch.
  const environment = new braintree.Environment(url.hostname, url.port, "http://auth.invalid", false);
  return new braintree.BraintreeGateway({
    environment,
    merchantId: process.env.BRAINTREE_MERCHANT_ID,
    publicKey: process.env.BRAINTREE_PUBLIC_KEY,
    privateKey,
  });
}

function summary(customer) {
  return {
    id: customer.id,
    firstName: customer.firstName,
    lastName: customer.lastName,
    company: customer.company,
    email: customer.email,
    createdAt: customer.createdAt,
    paymentMethods: customer.paymentMethods.map((pm) => ({
      token: pm.token,
      kind: pm.constructor.name,
      default: pm.default,
      last4: pm.last4,
    })),
  };
}

async function errorType(promise) {
  try {
    await promise;
    return "none";
  } catch (err) {
    return err.type;
  }
}

// searchAll runs a customer search and collects what the SDK's stream
// yields, page after page.
function searchAll(gw, fn) {
  return new Promise((resolve, reject) => {
    const found = [];
    const stream = gw.customer.search(fn);
    stream.on("data", (c) => found.push({ id: c.id, email: c.email }));
    stream.on("error", reject);
    stream.on("end", () => resolve(found));
  });
}

async function main() {
  const gw = gateway(process.env.BRAINTREE_PRIVATE_KEY);
  const id = process.env.CUSTOMER_ID;
  const attrs = { id, firstName: "Ada", lastName: "Lovelace", company: "Analytical Engines", email: "ada@example.com" };

  const created = await gw.customer.create(attrs);
  if (!created.success) throw new Error("create failed: " + created.message);

  const duplicate = await gw.customer.create(attrs);
  const found = await gw.customer.find(id);

  const vaulted = await gw.paymentMethod.create({
    customerId: id,
    paymentMethodNonce: braintree.Test.Nonces.Transactable,
  });
  if (!vaulted.success) throw new Error("payment method failed: " + vaulted.message);
  const again = await gw.customer.find(id);
  const method = await gw.paymentMethod.find(vaulted.paymentMethod.token);

  const badNonce = await gw.paymentMethod.create({ customerId: id, paymentMethodNonce: "not-a-nonce" });

  const createdAt = new Date(created.customer.createdAt);
  const minutes = (n) => new Date(createdAt.getTime() + n * 60000);
  const search = await searchAll(gw, (q) => q.createdAt().between(minutes(-10), minutes(10)));
  const emptySearch = await searchAll(gw, (q) => q.createdAt().between(new Date("2001-01-01T00:00:00Z"), new Date("2001-12-31T00:00:00Z")));

  process.stdout.write(
    JSON.stringify({
      created: summary(created.customer),
      duplicate: {
        success: duplicate.success,
        message: duplicate.message,
        errors: duplicate.errors.for("customer").on("id").map((e) => ({ code: e.code, attribute: e.attribute })),
      },
      found: summary(found),
      vaulted: {
        success: vaulted.success,
        kind: vaulted.paymentMethod.constructor.name,
        token: vaulted.paymentMethod.token,
        customerId: vaulted.paymentMethod.customerId,
        cardType: vaulted.paymentMethod.cardType,
        maskedNumber: vaulted.paymentMethod.maskedNumber,
        default: vaulted.paymentMethod.default,
      },
      again: summary(again),
      methodFound: { token: method.token, customerId: method.customerId },
      badNonce: { success: badNonce.success, codes: badNonce.errors.deepErrors().map((e) => e.code) },
      search,
      emptySearch,
      notFound: await errorType(gw.customer.find("no_such_customer")),
      badKey: await errorType(gateway("wrong-private-key").customer.find(id)),
      deleted: await errorType(gw.customer.delete(id)),
      goneAfterDelete: await errorType(gw.customer.find(id)),
    }) + "\n"
  );
}

main().catch((err) => {
  process.stderr.write(String((err && err.stack) || err) + "\n");
  process.exit(1);
});
