"use strict";

const { EventEmitter } = require("events");

/**
 * A shopping cart: the items a customer picked and how many of each.
 * @extends EventEmitter
 */
class Cart extends EventEmitter {
  #lines = new Map();
  #discounts = [];

  constructor(currency) {
    super();
    this.currency = currency;
    this.state = "open";
  }

  /**
   * Adds `count` of an item; adding an item twice adds up the counts.
   * @param {{id: string, name: string, price: number}} item
   * @param {number} [count=1]
   */
  add(item, count = 1) {
    if (this.state !== "open") {
      throw new Error(`cannot add to a cart that is ${this.state}`);
    }
    const line = this.#lines.get(item.id);
    if (line) {
      line.count += count;
    } else {
      this.#lines.set(item.id, { item, count });
    }
    this.emit("added", item, count);
    return this;
  }

  remove(item) {
    const removed = this.#lines.delete(item.id);
    if (removed) this.emit("removed", item);
    return removed;
  }

  /** The total in cents, after discounts, never below zero. */
  total() {
    let cents = 0;
    for (const { item, count } of this.#lines.values()) cents += item.price * count;
    for (const discount of this.#discounts) {
      cents -= discount.percent ? Math.round((cents * discount.percent) / 100) : discount.amount;
    }
    return Math.max(0, cents);
  }

  onChange = (listener) => {
    ["added", "removed"].forEach((event) => this.on(event, listener));
    return () => ["added", "removed"].forEach((event) => this.off(event, listener));
  };
}

function* lines(cart) {
  for (const line of cart.entries()) yield line;
}

const formatTotal = (cart, locale = "en-US") =>
  new Intl.NumberFormat(locale, { style: "currency", currency: cart.currency }).format(cart.total() / 100);

function CartSummary({ cart }) {
  return (
    <p className="summary">
      {cart.size} items, {formatTotal(cart)}
    </p>
  );
}

module.exports = { Cart, lines, formatTotal, CartSummary };
