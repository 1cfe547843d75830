using System;
using System.Collections.Generic;
using System.Linq;

namespace Acme.Shop;

/// <summary>Something a customer can buy, priced in cents.</summary>
public sealed record Item(string Id, string Name, long Cents);

/// <summary>Lowers a cart's total.</summary>
public interface IDiscount
{
    long Apply(long cents);
    string Code { get; }
}

public enum CartState { Open, CheckingOut, Paid }

/// <summary>
/// A shopping cart: the items a customer picked, how many of each, and what they cost
/// together once discounts apply.
/// </summary>
public sealed class Cart
{
    private readonly Dictionary<string, (Item Item, int Count)> lines = new();
    private readonly List<IDiscount> discounts = new();

    public CartState State { get; private set; } = CartState.Open;

    public event EventHandler<Item>? Added;

    /// <summary>Adds <paramref name="count"/> of an item; adding an item twice adds up the counts.</summary>
    public Cart Add(Item item, int count = 1)
    {
        if (State != CartState.Open)
        {
            throw new InvalidOperationException($"cannot add to a cart that is {State}");
        }
        lines[item.Id] = lines.TryGetValue(item.Id, out var line) ? (item, line.Count + count) : (item, count);
        Added?.Invoke(this, item);
        return this;
    }

    public bool Remove(Item item) => lines.Remove(item.Id);

    public void Apply(IDiscount discount)
    {
        if (discounts.Any(known => known.Code == discount.Code)) return;
        discounts.Add(discount);
    }

    /// <summary>The total in cents after discounts, never below zero.</summary>
    public long Total()
    {
        var cents = lines.Values.Sum(line => line.Item.Cents * line.Count);
        foreach (var discount in discounts)
        {
            cents = discount.Apply(cents);
        }
        return Math.Max(0, cents);
    }

    public override string ToString() =>
        string.Join(", ", lines.Values.OrderBy(line => line.Item.Name).Select(line => $"{line.Item.Name} x{line.Count}"));
}
