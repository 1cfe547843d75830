; Chunking rules for Rust. Read by codexos-chunk (see grammars/README.md).
;
; @item.KIND  a chunkable item of that kind (function, method, struct, enum, trait, impl,
;             module, macro, const, type, or any other word for a custom kind)
; @name       the item's name: one segment of the symbol path
; @attach     nodes that travel with the item directly below them (docs, attributes)
;
; When several patterns capture the same item node, the earliest pattern wins, so the
; specific ones (methods) come before the general ones (functions).

; Methods: functions directly inside an impl or trait body.
(impl_item
  body: (declaration_list
    (function_item name: (_) @name) @item.method))
(trait_item
  body: (declaration_list
    [(function_item name: (_) @name)
     (function_signature_item name: (_) @name)] @item.method))

(function_item name: (_) @name) @item.function
(function_signature_item name: (_) @name) @item.function

; `impl Display for Wrapper<T>` is named after the type it implements for: `Wrapper`.
(impl_item type: [(type_identifier) @name
                  (generic_type type: (type_identifier) @name)
                  (scoped_type_identifier name: (type_identifier) @name)
                  (generic_type type: (scoped_type_identifier name: (type_identifier) @name))]) @item.impl
(impl_item type: (_) @name) @item.impl

(trait_item name: (_) @name) @item.trait
(struct_item name: (_) @name) @item.struct
(union_item name: (_) @name) @item.struct
(enum_item name: (_) @name) @item.enum
(type_item name: (_) @name) @item.type
(mod_item name: (_) @name) @item.module
(macro_definition name: (_) @name) @item.macro
(const_item name: (_) @name) @item.const
(static_item name: (_) @name) @item.const

; Outer doc comments, plain comments and #[attributes] directly above an item belong to it;
; inner docs (`//!`) and inner attributes (`#![...]`) describe the enclosing module instead.
(line_comment !inner) @attach
(block_comment !inner) @attach
(attribute_item) @attach
