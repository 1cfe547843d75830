; Chunking rules for PHP. Read by codexos-chunk (see grammars/README.md).
;
; @item.KIND  a chunkable item of that kind; @name its name: one symbol path segment, or
;             several for a namespace (`App\Models`);
; @module     the namespace every symbol of the file is in (`namespace App\Models;`);
; @attach     nodes that travel with the item directly below them (docblocks, comments).
;
; #[Attributes] are part of the declaration they annotate, so they come with it.

(namespace_definition name: (_) @module !body)
(namespace_definition name: (_) @name body: (_)) @item.module

(method_declaration name: (_) @name) @item.method
(function_definition name: (_) @name) @item.function

(class_declaration name: (_) @name) @item.class
(interface_declaration name: (_) @name) @item.interface
(trait_declaration name: (_) @name) @item.trait
(enum_declaration name: (_) @name) @item.enum

(comment) @attach
