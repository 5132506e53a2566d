// Dodo dispute events → Inngest, corrected from Dodo's published example:
// `ts` in milliseconds, an idempotency `id`, provider-prefixed names, no `user` field,
// the amount kept in minor units as Dodo sends it (a string), and cancel for other types.
function handler(webhook) {
  if (!webhook.eventType.startsWith("dispute.")) {
    webhook.cancel = true;
    return webhook;
  }
  const d = webhook.payload.data;
  webhook.payload = {
    name: "dodo/" + webhook.eventType,
    id: webhook.eventType + ":" + d.dispute_id + ":" + webhook.payload.timestamp,
    ts: new Date(webhook.payload.timestamp).getTime(),
    data: {
      dispute_id: d.dispute_id,
      payment_id: d.payment_id,
      amount: d.amount,
      currency: d.currency,
      status: d.dispute_status,
      stage: d.dispute_stage,
      remarks: d.remarks ?? null,
      customer_email: d.customer?.email ?? null,
      urgent: webhook.eventType === "dispute.opened"
    }
  };
  return webhook;
}
