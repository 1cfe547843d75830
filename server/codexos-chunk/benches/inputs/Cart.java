package com.acme.shop;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A shopping cart: the items a customer picked, how many of each, and what they cost
 * together once discounts apply. Not thread-safe.
 */
public final class Cart {
    /** Something a customer can buy, priced in cents. */
    public record Item(String id, String name, long cents) {
        public Item {
            Objects.requireNonNull(id, "id");
            if (cents < 0) {
                throw new IllegalArgumentException("a price is never negative: " + cents);
            }
        }
    }

    /** Lowers a cart's total. */
    public interface Discount {
        long apply(long cents);

        default String describe() {
            return getClass().getSimpleName();
        }
    }

    public enum State { OPEN, CHECKING_OUT, PAID }

    private final Map<String, Integer> counts = new LinkedHashMap<>();
    private final Map<String, Item> items = new LinkedHashMap<>();
    private final List<Discount> discounts = new ArrayList<>();
    private State state = State.OPEN;

    /** Adds {@code count} of an item; adding an item twice adds up the counts. */
    public Cart add(Item item, int count) {
        if (state != State.OPEN) {
            throw new IllegalStateException("cannot add to a cart that is " + state);
        }
        items.putIfAbsent(item.id(), item);
        counts.merge(item.id(), count, Integer::sum);
        return this;
    }

    public boolean remove(Item item) {
        items.remove(item.id());
        return counts.remove(item.id()) != null;
    }

    public void apply(Discount discount) {
        discounts.add(discount);
    }

    /** The total in cents after discounts, never below zero. */
    public long total() {
        long cents = 0;
        for (Map.Entry<String, Integer> entry : counts.entrySet()) {
            cents += items.get(entry.getKey()).cents() * entry.getValue();
        }
        for (Discount discount : discounts) {
            cents = discount.apply(cents);
        }
        return Math.max(0, cents);
    }

    @Override
    public String toString() {
        List<String> lines = new ArrayList<>();
        counts.forEach((id, count) -> lines.add(items.get(id).name() + " x" + count));
        Collections.sort(lines);
        return String.join(", ", lines) + " = " + total();
    }
}
