; Chunking rules for C#. Read by codexos-chunk (see grammars/README.md).
;
; @item.KIND  a chunkable item of that kind; @name its name: one symbol path segment, or
;             several for a dotted namespace;
; @module     the file-scoped namespace every symbol of the file is in;
; @attach     nodes that travel with the item directly below them (/// docs, comments).
;
; [Attributes] are part of the declaration they annotate, so they come with it.

(file_scoped_namespace_declaration name: (_) @module)
(namespace_declaration name: (_) @name) @item.module

(method_declaration name: (_) @name) @item.method
(constructor_declaration name: (_) @name) @item.method
(local_function_statement name: (_) @name) @item.function

(class_declaration name: (_) @name) @item.class
(record_declaration name: (_) @name) @item.class
(struct_declaration name: (_) @name) @item.struct
(interface_declaration name: (_) @name) @item.interface
(enum_declaration name: (_) @name) @item.enum
(delegate_declaration name: (_) @name) @item.type

(comment) @attach
