// Drives paysync's Adyen emulator with the official Adyen Node library
// (@adyen/api-library 32.1.0) and prints what the library parsed, as one
// JSON object, for sandbox/adyenemu/sdk_test.go to check.
//
// Env: ADYEN_URL (the emulator, https: the library only speaks TLS; trust
// its certificate with NODE_EXTRA_CA_CERTS), ADYEN_API_KEY,
// ADYEN_MERCHANT_ACCOUNT, ADYEN_SHOPPER_REFERENCE.
"use strict";

const { Client, CheckoutAPI } = require("@adyen/api-library");

const base = process.env.ADYEN_URL;
const apiKey = process.env.ADYEN_API_KEY;
const merchantAccount = process.env.ADYEN_MERCHANT_ACCOUNT;
const shopperReference = process.env.ADYEN_SHOPPER_REFERENCE;

// The library fixes each service's endpoint in its constructor (32.x: the
// v72 test host); a service's baseUrl is the documented point to redirect
// it. Each getter on CheckoutAPI builds a new service, so keep the instance.
function services(key) {
  const checkout = new CheckoutAPI(new Client({ apiKey: key, environment: "TEST" }));
  const recurring = checkout.RecurringApi;
  const links = checkout.PaymentLinksApi;
  recurring.baseUrl = `${base}/v71`;
  links.baseUrl = `${base}/v71`;
  return { recurring, links };
}

async function main() {
  // Store a card for the shopper the way the sandbox does.
  const attach = await fetch(`${base}/_sandbox/shoppers/${encodeURIComponent(shopperReference)}/payment_methods`, { method: "POST" });
  if (attach.status !== 201) throw new Error(`attach answered ${attach.status}`);
  const attached = await attach.json();

  const { recurring, links } = services(apiKey);
  const stored = await recurring.getTokensForStoredPaymentDetails(shopperReference, merchantAccount);

  const linkRequest = {
    amount: { value: 0, currency: "EUR" },
    merchantAccount,
    reference: "sdk-setup-1",
    shopperReference,
    storePaymentMethodMode: "enabled",
    recurringProcessingModel: "UnscheduledCardOnFile",
    returnUrl: "https://merchant.example/return",
  };
  const link = await links.paymentLinks(linkRequest, { idempotencyKey: "sdk-key-1" });
  const repeat = await links.paymentLinks(linkRequest, { idempotencyKey: "sdk-key-1" });
  const fetched = await links.getPaymentLink(link.id);

  // A wrong key must come back as Adyen's error, parsed by the library.
  let unauthorized = null;
  try {
    await services("wrong-key").recurring.getTokensForStoredPaymentDetails(shopperReference, merchantAccount);
  } catch (e) {
    unauthorized = { statusCode: e.statusCode, errorCode: e.errorCode, errorType: e.apiError && e.apiError.errorType };
  }

  process.stdout.write(JSON.stringify({
    attachedId: attached.id,
    stored: {
      merchantAccount: stored.merchantAccount,
      shopperReference: stored.shopperReference,
      methods: (stored.storedPaymentMethods || []).map((m) => ({
        id: m.id, type: m.type, brand: m.brand, lastFour: m.lastFour, shopperReference: m.shopperReference,
      })),
    },
    link: {
      id: link.id, url: link.url, status: link.status, reference: link.reference,
      shopperReference: link.shopperReference, amount: link.amount,
      expiresAt: link.expiresAt instanceof Date ? link.expiresAt.toISOString() : link.expiresAt,
    },
    repeatId: repeat.id,
    fetchedStatus: fetched.status,
    unauthorized,
  }) + "\n");
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
