import React, { useCallback, useMemo, useState } from "react";
import type { Cart, Item } from "../cart";

type Props = {
  cart: Cart;
  onCheckout: (total: number) => Promise<void>;
};

/** One row of the cart: the item, its count, and a button to remove it. */
function CartRow({ item, count, onRemove }: { item: Item; count: number; onRemove: () => void }) {
  return (
    <tr className="cart-row">
      <td>{item.name}</td>
      <td className="count">{count}</td>
      <td className="price">{(item.price.cents * count) / 100}</td>
      <td>
        <button type="button" onClick={onRemove} aria-label={`Remove ${item.name}`}>
          ×
        </button>
      </td>
    </tr>
  );
}

/**
 * The cart page: every line, the total, and a checkout button that is disabled while a
 * checkout is under way.
 */
export function CartView({ cart, onCheckout }: Props) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const lines = useMemo(() => [...cart.lines()].sort((a, b) => a.item.name.localeCompare(b.item.name)), [cart]);

  const checkout = useCallback(async () => {
    setBusy(true);
    setError(null);
    try {
      await onCheckout(cart.total());
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setBusy(false);
    }
  }, [cart, onCheckout]);

  if (lines.length === 0) {
    return <p className="empty">Your cart is empty.</p>;
  }
  return (
    <section className="cart">
      <table>
        <tbody>
          {lines.map(({ item, count }) => (
            <CartRow key={item.id} item={item} count={count} onRemove={() => cart.remove(item)} />
          ))}
        </tbody>
      </table>
      {error && <p role="alert">{error}</p>}
      <button type="submit" disabled={busy} onClick={checkout}>
        Pay {cart.total() / 100}
      </button>
    </section>
  );
}

export default class CartErrorBoundary extends React.Component<{ children: React.ReactNode }, { failed: boolean }> {
  state = { failed: false };

  static getDerivedStateFromError() {
    return { failed: true };
  }

  render() {
    return this.state.failed ? <p>Something went wrong with the cart.</p> : this.props.children;
  }
}
