// Dodo subscription events → Inngest, corrected from Dodo's published example:
// `ts` in milliseconds, an idempotency `id`, provider-prefixed names, no `user` field,
// and cancel for every type it does not shape.
function handler(webhook) {
  if (!webhook.eventType.startsWith("subscription.")) {
    webhook.cancel = true;
    return webhook;
  }
  const s = webhook.payload.data;
  webhook.payload = {
    name: "dodo/" + webhook.eventType,
    id: webhook.eventType + ":" + s.subscription_id + ":" + webhook.payload.timestamp,
    ts: new Date(webhook.payload.timestamp).getTime(),
    data: {
      subscription_id: s.subscription_id,
      status: s.status,
      product_id: s.product_id,
      quantity: s.quantity,
      customer_id: s.customer?.customer_id ?? null,
      customer_email: s.customer?.email ?? null,
      customer_name: s.customer?.name ?? null,
      recurring_pre_tax_amount: s.recurring_pre_tax_amount,
      currency: s.currency,
      frequency: s.payment_frequency_interval,
      next_billing_date: s.next_billing_date ?? null,
      cancelled_at: s.cancelled_at ?? null,
      cancel_at_next_billing_date: s.cancel_at_next_billing_date ?? false,
      payment_id: s.payment_id ?? null
    }
  };
  return webhook;
}
