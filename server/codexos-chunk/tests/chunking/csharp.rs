use expect_test::expect;

use crate::support::*;

#[test]
fn csharp_members_are_named_namespace_class_member() {
    let source = r#"using System.Collections.Generic;

namespace Shop.Core;

/// <summary>A shopping cart: the items a customer picked.</summary>
[Serializable]
public class Cart
{
    private readonly List<Item> items = new();

    /// <summary>Adds an item; the same item twice counts twice.</summary>
    [Obsolete("Use AddMany")]
    public void Add(Item item)
    {
        items.Add(item);
        Changed?.Invoke(this, new CartChangedEventArgs(item, items.Count));
    }

    public long Total() => items.Sum(item => item.Price);

    public record Item(string Name, long Price);

    public interface IListener { void OnChange(Cart cart); }
}
"#;
    check(
        &small_chunker(90, 20),
        "src/Shop/Cart.cs",
        source,
        expect![[r#"
            1-9 class `Shop.Core.Cart` (71) | using System.Collections.Generic;
                class Shop.Core.Cart 5-24
            11-17 method `Shop.Core.Cart.Add` (81) |     /// <summary>Adds an item; the same item twice counts twice.</summary>
                method Shop.Core.Cart.Add 11-17
            19-19 method `Shop.Core.Cart.Total` (23) |     public long Total() => items.Sum(item => item.Price);
                method Shop.Core.Cart.Total 19-19
            21-24 interface `Shop.Core.Cart.IListener` (34) |     public record Item(string Name, long Price);
                class Shop.Core.Cart.Item 21-21
                interface Shop.Core.Cart.IListener 23-23
                method Shop.Core.Cart.IListener.OnChange 23-23
        "#]],
    );
}

#[test]
fn csharp_block_namespaces_nest_their_types() {
    let source = r#"namespace Shop.Billing
{
    // Money in cents.
    public struct Money { public long Cents; }

    public enum Currency { Eur, Usd }
}
"#;
    check(
        &small_chunker(30, 5),
        "Billing.cs",
        source,
        expect![[r#"
        1-2 module `Shop.Billing` (8) | namespace Shop.Billing
            module Shop.Billing 1-7
        3-4 struct `Shop.Billing.Money` (22) |     // Money in cents.
            struct Shop.Billing.Money 3-4
        6-7 enum `Shop.Billing.Currency` (11) |     public enum Currency { Eur, Usd }
            enum Shop.Billing.Currency 6-6
    "#]],
    );
}

#[test]
fn broken_csharp_still_chunks_and_covers_every_line() {
    let source = r#"class Fine { int One() { return 1; } }

class Broken {
    void Method( {
        int x = ;
    }
    class
int After() { return 2; }
"#;
    check(
        &small_chunker(40, 5),
        "Broken.cs",
        source,
        expect![[r#"
        1-1 class `Fine` (15) | class Fine { int One() { return 1; } }
            class Fine 1-1
            method Fine.One 1-1
        3-3 module `` (5) | class Broken {
        4-8 method `Method` (23) |     void Method( {
            method Method 4-8
    "#]],
    );
}
