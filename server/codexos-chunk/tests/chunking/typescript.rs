use expect_test::expect;

use crate::support::*;

#[test]
fn typescript_classes_and_methods_are_named_module_class_method() {
    let source = r#"import { Item } from "./item";

/** A shopping cart that knows its items and what they cost, in cents. */
@Injectable()
export class Cart {
  private readonly items: Item[] = [];

  /** Adds an item, merging it with one of the same name if the cart has it already. */
  add(item: Item): void {
    const known = this.items.find((other) => other.name === item.name);
    if (known) known.count += item.count;
    else this.items.push(item);
  }

  @Memoize()
  total(): number {
    return this.items.reduce((sum, item) => sum + item.price * item.count, 0);
  }

  onChange = (listener: () => void): void => { this.listeners.push(listener); };
}

export function emptyCart(): Cart {
  return new Cart();
}
"#;
    check(
        &small_chunker(100, 20),
        "web/src/shop/cart.ts",
        source,
        expect![[r#"
            1-6 class `shop.cart.Cart` (62) | import { Item } from "./item";
                class shop.cart.Cart 3-21
            8-13 method `shop.cart.Cart.add` (94) |   /** Adds an item, merging it with one of the same name if the cart has it already. */
                method shop.cart.Cart.add 8-13
            15-18 method `shop.cart.Cart.total` (46) |   @Memoize()
                method shop.cart.Cart.total 15-18
            20-21 method `shop.cart.Cart.onChange` (33) |   onChange = (listener: () => void): void => { this.listeners.push(listener); };
                method shop.cart.Cart.onChange 20-20
            23-25 function `shop.cart.emptyCart` (20) | export function emptyCart(): Cart {
                function shop.cart.emptyCart 23-25
        "#]],
    );
}

#[test]
fn typescript_types_interfaces_enums_and_namespaces_are_items() {
    let source = r#"// The shapes the API returns.
export interface Shape {
  area(): number;
  readonly name: string;
}

export type Id = string | number;

enum Color { Red, Green }

export namespace Geometry {
  export class Circle implements Shape {
    constructor(readonly radius: number) {}
    area(): number { return Math.PI * this.radius ** 2; }
    get name(): string { return "circle"; }
  }
}

export const square = (side: number): number => side * side;
"#;
    check(
        &small_chunker(40, 5),
        "src/shapes/index.ts",
        source,
        expect![[r#"
            1-5 interface `shapes.Shape` (33) | // The shapes the API returns.
                interface shapes.Shape 1-5
                method shapes.Shape.area 3-3
            7-7 type `shapes.Id` (11) | export type Id = string | number;
                type shapes.Id 7-7
            9-9 enum `shapes.Color` (9) | enum Color { Red, Green }
                enum shapes.Color 9-9
            11-11 module `shapes.Geometry` (8) | export namespace Geometry {
                module shapes.Geometry 11-17
            12-12 class `shapes.Geometry.Circle` (12) |   export class Circle implements Shape {
                class shapes.Geometry.Circle 12-16
            13-13 method `shapes.Geometry.Circle.constructor` (14) |     constructor(readonly radius: number) {}
                method shapes.Geometry.Circle.constructor 13-13
            14-14 method `shapes.Geometry.Circle.area` (22) |     area(): number { return Math.PI * this.radius ** 2; }
                method shapes.Geometry.Circle.area 14-14
            15-17 method `shapes.Geometry.Circle.name` (18) |     get name(): string { return "circle"; }
                method shapes.Geometry.Circle.name 15-15
            19-19 function `shapes.square` (22) | export const square = (side: number): number => side * side;
                function shapes.square 19-19
        "#]],
    );
}

#[test]
fn broken_typescript_still_chunks_and_covers_every_line() {
    let source = r#"export function fine(): number {
  return 1;
}

class Broken {
  method( {
    return ((;
  }
interface
export const after = (x: number) => x + 1;
"#;
    check(
        &small_chunker(40, 5),
        "src/broken.ts",
        source,
        expect![[r#"
        1-3 function `broken.fine` (16) | export function fine(): number {
            function broken.fine 1-3
        5-10 module `broken` (37) | class Broken {
    "#]],
    );
}

#[test]
fn tsx_components_are_chunked_with_their_jsx() {
    let source = r#"import React from "react";

type Props = { items: string[]; onPick: (item: string) => void };

/** Lists the items; a click picks one. */
export function ItemList({ items, onPick }: Props) {
  const pick = (item: string) => () => onPick(item);
  return (
    <ul className="items">
      {items.map((item) => <li key={item} onClick={pick(item)}>{item}</li>)}
    </ul>
  );
}

export default class Counter extends React.Component<{}, { count: number }> {
  state = { count: 0 };
  render() {
    return <button onClick={() => this.setState({ count: this.state.count + 1 })}>{this.state.count}</button>;
  }
}
"#;
    check(
        &small_chunker(80, 10),
        "app/components/ItemList.tsx",
        source,
        expect![[r#"
            1-1 module `app.components.ItemList` (10) | import React from "react";
            3-3 type `app.components.ItemList.Props` (27) | type Props = { items: string[]; onPick: (item: string) => void };
                type app.components.ItemList.Props 3-3
            5-6 function `app.components.ItemList.ItemList` (37) | /** Lists the items; a click picks one. */
                function app.components.ItemList.ItemList 5-13
            7-7 function `app.components.ItemList.ItemList.pick` (22) |   const pick = (item: string) => () => onPick(item);
                function app.components.ItemList.ItemList.pick 7-7
            8-13 function `app.components.ItemList.ItemList` (58) |   return (
            15-16 class `app.components.ItemList.Counter` (39) | export default class Counter extends React.Component<{}, { count: number }> {
                class app.components.ItemList.Counter 15-20
            17-20 method `app.components.ItemList.Counter.render` (57) |   render() {
                method app.components.ItemList.Counter.render 17-19
        "#]],
    );
}
