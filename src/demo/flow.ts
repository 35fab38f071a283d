/**
 * The demo's flow: an online shop's order fulfilment, as a DAG of seven
 * steps with a fan-out after validation and a fan-in before shipping.
 *
 *   validate_order ─┬─ reserve_inventory ──────────────────┐
 *                   ├─ check_fraud ─── charge_payment ─────┼─ create_shipment ─── send_confirmation
 *                   └─ quote_shipping ─────────────────────┘          (also gets charge_payment)
 *
 * The handlers stand in for calls to other services with a few milliseconds
 * of waiting each. `reserve_inventory` fails on its first attempt for every
 * tenth order (the inventory service answers 503) and succeeds when retried;
 * the flow's `baseDelay` of 1 s keeps that retry quick.
 */
import { Flow } from '../flow/flow.js';

/** The demo's own flow slug; the demo never touches other flows. */
export const DEMO_FLOW_SLUG = 'pgflow_orm_demo_orders_v1';

export interface OrderItem {
  sku: string;
  quantity: number;
  /** In cents. */
  unitPrice: number;
}

export interface OrderInput {
  orderId: string;
  orderNumber: number;
  customer: { id: string; email: string; country: string };
  items: OrderItem[];
}

/** Orders whose inventory reservation fails on the first attempt. */
export const isFlakyOrder = (orderNumber: number) => orderNumber % 10 === 7;

/** A small, stable pseudo-random number in [0, 1) for a text. */
function unit(text: string): number {
  let hash = 2166136261;
  for (let index = 0; index < text.length; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 16777619);
  return (hash >>> 0) / 2 ** 32;
}

/** Waits `ms` milliseconds, as a call to another service would; rejects when the step is aborted. */
function call(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** 1 to `max` ms, stable per order and step. */
const latency = (orderId: string, step: string, max = 8) => 1 + Math.floor(unit(`${orderId}:${step}`) * max);

const SHIPPING_RATES: Record<string, number> = { DE: 490, FR: 590, NL: 490, US: 1290, GB: 890 };

export const demoFlow = new Flow<OrderInput>({ slug: DEMO_FLOW_SLUG, maxAttempts: 3, baseDelay: 1, timeout: 10 })
  .step({ slug: 'validate_order' }, async ({ run }, { signal }) => {
    await call(latency(run.orderId, 'validate'), signal);
    if (run.items.length === 0) throw new Error(`order ${run.orderId} has no items`);
    for (const item of run.items) if (item.quantity < 1) throw new Error(`order ${run.orderId}: ${item.sku} has quantity ${item.quantity}`);
    const subtotal = run.items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0);
    return { subtotal, itemCount: run.items.reduce((sum, item) => sum + item.quantity, 0), currency: 'EUR' };
  })
  .step({ slug: 'reserve_inventory', dependsOn: ['validate_order'] }, async ({ run }, { attempt, signal }) => {
    await call(latency(run.orderId, 'reserve', 12), signal);
    if (isFlakyOrder(run.orderNumber) && attempt === 1) throw new Error('inventory service unavailable (HTTP 503); try again later');
    return { reservationId: `res_${run.orderId}`, warehouse: unit(run.orderId) < 0.5 ? 'berlin-1' : 'rotterdam-2' };
  })
  .step({ slug: 'check_fraud', dependsOn: ['validate_order'] }, async ({ run, validate_order }, { signal }) => {
    await call(latency(run.orderId, 'fraud'), signal);
    const score = Math.round(unit(`${run.customer.id}:fraud`) * 40 + (validate_order.subtotal > 50_000 ? 20 : 0));
    return { score, approved: score < 80 };
  })
  .step({ slug: 'quote_shipping', dependsOn: ['validate_order'] }, async ({ run, validate_order }, { signal }) => {
    await call(latency(run.orderId, 'shipping'), signal);
    const free = validate_order.subtotal >= 10_000;
    return { carrier: run.customer.country === 'US' ? 'ups' : 'dhl', cost: free ? 0 : (SHIPPING_RATES[run.customer.country] ?? 990), etaDays: run.customer.country === 'US' ? 5 : 2 };
  })
  .step({ slug: 'charge_payment', dependsOn: ['validate_order', 'check_fraud'] }, async ({ run, validate_order, check_fraud }, { signal }) => {
    if (!check_fraud.approved) throw new Error(`payment for order ${run.orderId} held for review (fraud score ${check_fraud.score})`);
    await call(latency(run.orderId, 'payment', 15), signal);
    return { paymentId: `pay_${run.orderId}`, amount: validate_order.subtotal, currency: validate_order.currency };
  })
  .step(
    { slug: 'create_shipment', dependsOn: ['reserve_inventory', 'quote_shipping', 'charge_payment'] },
    async ({ run, reserve_inventory, quote_shipping, charge_payment }, { signal }) => {
      await call(latency(run.orderId, 'shipment'), signal);
      return {
        trackingNumber: `${quote_shipping.carrier.toUpperCase()}${String(run.orderNumber).padStart(9, '0')}`,
        carrier: quote_shipping.carrier,
        from: reserve_inventory.warehouse,
        paid: charge_payment.amount + quote_shipping.cost,
      };
    },
  )
  .step({ slug: 'send_confirmation', dependsOn: ['create_shipment', 'charge_payment'] }, async ({ run, create_shipment, charge_payment }, { signal }) => {
    await call(latency(run.orderId, 'email', 4), signal);
    return {
      to: run.customer.email,
      subject: `Order ${run.orderId} is on its way`,
      trackingNumber: create_shipment.trackingNumber,
      total: `${(create_shipment.paid / 100).toFixed(2)} ${charge_payment.currency}`,
    };
  });

const CATALOG: readonly { sku: string; unitPrice: number }[] = [
  { sku: 'mug-espresso', unitPrice: 1290 },
  { sku: 'kettle-steel', unitPrice: 4990 },
  { sku: 'beans-1kg', unitPrice: 2490 },
  { sku: 'grinder-hand', unitPrice: 6900 },
  { sku: 'filter-papers', unitPrice: 390 },
  { sku: 'scale-digital', unitPrice: 2990 },
];
const COUNTRIES = ['DE', 'FR', 'NL', 'US', 'GB'];

/** `count` orders for the demo, numbered from 1; `batch` makes their ids unique per demo run. */
export function demoOrders(count: number, batch: string): OrderInput[] {
  return Array.from({ length: count }, (_, index) => {
    const orderNumber = index + 1;
    const orderId = `${batch}-${String(orderNumber).padStart(4, '0')}`;
    const customer = Math.floor(unit(`${orderId}:customer`) * 50);
    const lines = 1 + Math.floor(unit(`${orderId}:lines`) * 3);
    const items = Array.from({ length: lines }, (_, line) => {
      const product = CATALOG[Math.floor(unit(`${orderId}:item${line}`) * CATALOG.length)]!;
      return { sku: product.sku, quantity: 1 + Math.floor(unit(`${orderId}:qty${line}`) * 3), unitPrice: product.unitPrice };
    });
    return {
      orderId,
      orderNumber,
      customer: { id: `cus_${customer}`, email: `customer${customer}@example.com`, country: COUNTRIES[customer % COUNTRIES.length]! },
      items,
    };
  });
}
