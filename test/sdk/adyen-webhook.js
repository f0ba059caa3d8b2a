// Checks paysync's Adyen webhook signatures with the official Adyen Node
// library (@adyen/api-library 32.1.0), both ways, and prints one JSON
// object for providers/adyen/webhook_sdk_test.go:
//
//   checked: what the library's HmacValidator (and webhook handlers) make
//            of each webhook the emulator sent (ADYEN_WEBHOOKS_FILE);
//   signed:  webhooks built and signed here with the library's own
//            HmacValidator.calculateHmac, for paysync's VerifyWebhook.
//
// Env: ADYEN_HMAC_KEY (hex), ADYEN_OTHER_HMAC_KEY (hex, must not verify),
// ADYEN_WEBHOOKS_FILE (a JSON array of {"body": "<raw body>",
// "hmacSignature": "<HmacSignature header or empty>"}),
// ADYEN_SHOPPER_REFERENCE and ADYEN_MERCHANT_ACCOUNT (for the signed ones).
"use strict";

const fs = require("fs");
const { hmacValidator, TokenizationWebhooksHandler } = require("@adyen/api-library");
const NotificationRequest = require("@adyen/api-library/lib/src/notification/notificationRequest").default;

const key = process.env.ADYEN_HMAC_KEY;
const otherKey = process.env.ADYEN_OTHER_HMAC_KEY;
const shopperReference = process.env.ADYEN_SHOPPER_REFERENCE;
const merchantAccount = process.env.ADYEN_MERCHANT_ACCOUNT;
const validator = new hmacValidator();

// validates answers the library's verdict, or the error it threw.
function validates(fn) {
  try {
    return fn();
  } catch (e) {
    return `threw: ${e.message}`;
  }
}

function checkStandard(raw) {
  const parsed = JSON.parse(raw);
  // The library's own model of the notification, as a merchant would parse it.
  const model = new NotificationRequest(JSON.parse(raw));
  return parsed.notificationItems.map((wrapper, i) => {
    const item = wrapper.NotificationRequestItem;
    const modelItem = model.notificationItems[i];
    const tampered = JSON.parse(JSON.stringify(item));
    tampered.success = tampered.success === "true" ? "false" : "true";
    return {
      kind: "standard",
      event: item.eventCode,
      pspReference: item.pspReference,
      shopperReference: (item.additionalData || {})["recurring.shopperReference"] || "",
      amountValue: item.amount.value,
      valid: validates(() => validator.validateHMAC(item, key)),
      modelValid: validates(() => validator.validateHMAC(modelItem, key)),
      otherKeyValid: validates(() => validator.validateHMAC(item, otherKey)),
      tamperedValid: validates(() => validator.validateHMAC(tampered, key)),
    };
  });
}

function checkTokenization(raw, signature) {
  const webhook = new TokenizationWebhooksHandler(raw).getGenericWebhook();
  return [{
    kind: "tokenization",
    event: webhook.type,
    pspReference: webhook.eventId,
    shopperReference: webhook.data.shopperReference,
    storedPaymentMethodId: webhook.data.storedPaymentMethodId,
    valid: validates(() => validator.validateHMACSignature(key, signature, raw)),
    otherKeyValid: validates(() => validator.validateHMACSignature(otherKey, signature, raw)),
    tamperedValid: validates(() => validator.validateHMACSignature(key, signature, raw.replace(webhook.data.shopperReference, `${webhook.data.shopperReference}_x`))),
  }];
}

function signed() {
  const authorisation = {
    // No originalReference: a missing field signs as "".
    additionalData: {
      "recurring.recurringDetailReference": "8416000000000001",
      "recurring.shopperReference": shopperReference,
    },
    amount: { currency: "EUR", value: 0 },
    eventCode: "AUTHORISATION",
    eventDate: "2025-06-30T16:40:23+02:00",
    merchantAccountCode: merchantAccount,
    merchantReference: "node-setup-1",
    paymentMethod: "visa",
    pspReference: "NODEAUTH00000001",
    success: "true",
  };
  const capture = {
    additionalData: {},
    amount: { currency: "EUR", value: 1130 },
    eventCode: "CAPTURE",
    eventDate: "2025-06-30T16:41:00+02:00",
    merchantAccountCode: merchantAccount,
    merchantReference: "node-capture-1",
    originalReference: "NODEAUTH00000001",
    pspReference: "NODECAPT00000002",
    success: "true",
  };
  for (const item of [authorisation, capture]) {
    item.additionalData.hmacSignature = validator.calculateHmac(item, key);
  }
  const standard = JSON.stringify({
    live: "false",
    notificationItems: [{ NotificationRequestItem: authorisation }, { NotificationRequestItem: capture }],
  });
  const tokenBody = JSON.stringify({
    createdAt: "2025-06-30T16:45:00+02:00",
    data: {
      merchantAccount,
      shopperReference,
      storedPaymentMethodId: "8416000000000001",
      type: "visa",
    },
    environment: "test",
    eventId: "NODEDISA00000003",
    type: "recurring.token.disabled",
  });
  return {
    standard,
    tokenization: { body: tokenBody, hmacSignature: validator.calculateHmac(tokenBody, key) },
  };
}

function main() {
  const deliveries = JSON.parse(fs.readFileSync(process.env.ADYEN_WEBHOOKS_FILE, "utf8"));
  const checked = [];
  for (const d of deliveries) {
    checked.push(...(d.hmacSignature ? checkTokenization(d.body, d.hmacSignature) : checkStandard(d.body)));
  }
  process.stdout.write(JSON.stringify({ checked, signed: signed() }) + "\n");
}

try {
  main();
} catch (e) {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
}
