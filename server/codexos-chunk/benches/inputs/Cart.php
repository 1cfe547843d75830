<?php

declare(strict_types=1);

namespace Acme\Shop;

use InvalidArgumentException;
use LogicException;

/** Something a customer can buy, priced in cents. */
final class Item
{
    public function __construct(
        public readonly string $id,
        public readonly string $name,
        public readonly int $cents,
    ) {
        if ($cents < 0) {
            throw new InvalidArgumentException("a price is never negative: {$cents}");
        }
    }
}

/** Lowers a cart's total. */
interface Discount
{
    public function apply(int $cents): int;
}

enum CartState: string
{
    case Open = 'open';
    case Paid = 'paid';
}

/**
 * A shopping cart: the items a customer picked, how many of each, and what they cost
 * together once discounts apply.
 */
#[Entity(table: 'carts')]
final class Cart implements \Countable
{
    /** @var array<string, array{item: Item, count: int}> */
    private array $lines = [];
    /** @var list<Discount> */
    private array $discounts = [];
    private CartState $state = CartState::Open;

    /** Adds $count of an item; adding an item twice adds up the counts. */
    public function add(Item $item, int $count = 1): static
    {
        if ($this->state !== CartState::Open) {
            throw new LogicException("cannot add to a cart that is {$this->state->value}");
        }
        $this->lines[$item->id] ??= ['item' => $item, 'count' => 0];
        $this->lines[$item->id]['count'] += $count;
        return $this;
    }

    public function remove(Item $item): bool
    {
        $known = isset($this->lines[$item->id]);
        unset($this->lines[$item->id]);
        return $known;
    }

    public function count(): int
    {
        return array_sum(array_column($this->lines, 'count'));
    }

    /** The total in cents after discounts, never below zero. */
    public function total(): int
    {
        $cents = 0;
        foreach ($this->lines as ['item' => $item, 'count' => $count]) {
            $cents += $item->cents * $count;
        }
        foreach ($this->discounts as $discount) {
            $cents = $discount->apply($cents);
        }
        return max(0, $cents);
    }
}

function format_total(Cart $cart, string $currency = 'EUR'): string
{
    return sprintf('%.2f %s', $cart->total() / 100, $currency);
}
