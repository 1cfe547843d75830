import { EventEmitter } from "events";
import type { Item, Money } from "./types";

/** What a cart tells its listeners. */
export interface CartEvents {
  added(item: Item, count: number): void;
  removed(item: Item): void;
  cleared(): void;
}

export type Discount = { code: string; percent: number } | { code: string; amount: Money };

export enum CartState {
  Open = "open",
  CheckingOut = "checking-out",
  Paid = "paid",
}

/**
 * A shopping cart: the items a customer picked, how many of each, and what they cost
 * together once discounts apply.
 */
export class Cart extends EventEmitter {
  private readonly lines = new Map<string, { item: Item; count: number }>();
  private discounts: Discount[] = [];
  state: CartState = CartState.Open;

  constructor(private readonly currency: string) {
    super();
  }

  /** Adds `count` of an item; adding an item twice adds up the counts. */
  add(item: Item, count = 1): this {
    if (this.state !== CartState.Open) {
      throw new Error(`cannot add to a cart that is ${this.state}`);
    }
    const line = this.lines.get(item.id);
    if (line) {
      line.count += count;
    } else {
      this.lines.set(item.id, { item, count });
    }
    this.emit("added", item, count);
    return this;
  }

  remove(item: Item): boolean {
    const removed = this.lines.delete(item.id);
    if (removed) this.emit("removed", item);
    return removed;
  }

  applyDiscount(discount: Discount): void {
    if (this.discounts.some((known) => known.code === discount.code)) return;
    this.discounts.push(discount);
  }

  /** The total in cents, after discounts, never below zero. */
  total(): number {
    let cents = 0;
    for (const { item, count } of this.lines.values()) {
      cents += item.price.cents * count;
    }
    for (const discount of this.discounts) {
      cents -= "percent" in discount ? Math.round((cents * discount.percent) / 100) : discount.amount.cents;
    }
    return Math.max(0, cents);
  }

  onChange = (listener: () => void): (() => void) => {
    const events = ["added", "removed", "cleared"] as const;
    events.forEach((event) => this.on(event, listener));
    return () => events.forEach((event) => this.off(event, listener));
  };
}

export function formatTotal(cart: Cart, locale = "en-US"): string {
  return new Intl.NumberFormat(locale, { style: "currency", currency: "EUR" }).format(cart.total() / 100);
}
