// Dodo payment events → Inngest, corrected from Dodo's published example:
// - `ts` in milliseconds (Inngest rejects seconds as "before Jan 1, 1980");
// - an idempotency `id`, so Dodo's retries and replays do not run functions twice;
// - a provider-prefixed name (`dodo/payment.succeeded`) and no deprecated `user` field;
// - deliveries of types it does not shape are cancelled instead of sent raw.
function handler(webhook) {
  if (!webhook.eventType.startsWith("payment.")) {
    webhook.cancel = true;
    return webhook;
  }
  const p = webhook.payload.data;
  webhook.payload = {
    name: "dodo/" + webhook.eventType,
    id: webhook.eventType + ":" + p.payment_id + ":" + webhook.payload.timestamp,
    ts: new Date(webhook.payload.timestamp).getTime(),
    data: {
      payment_id: p.payment_id,
      status: p.status ?? null,
      total_amount: p.total_amount,
      tax: p.tax ?? null,
      currency: p.currency,
      customer_id: p.customer?.customer_id ?? null,
      customer_email: p.customer?.email ?? null,
      customer_name: p.customer?.name ?? null,
      payment_method: p.payment_method ?? null,
      subscription_id: p.subscription_id ?? null,
      metadata: p.metadata ?? {}
    }
  };
  return webhook;
}
