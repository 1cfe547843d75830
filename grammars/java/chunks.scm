; Chunking rules for Java. Read by codexos-chunk (see grammars/README.md).
;
; @item.KIND  a chunkable item of that kind; @name its name (one symbol path segment);
; @module     the package every symbol of the file is in;
; @attach     nodes that travel with the item directly below them (Javadoc, comments).
;
; Annotations are part of the declaration they annotate, so they come with it.

(package_declaration [(identifier) (scoped_identifier)] @module)

(method_declaration name: (_) @name) @item.method
(constructor_declaration name: (_) @name) @item.method
(compact_constructor_declaration name: (_) @name) @item.method

(class_declaration name: (_) @name) @item.class
(record_declaration name: (_) @name) @item.class
(interface_declaration name: (_) @name) @item.interface
(annotation_type_declaration name: (_) @name) @item.interface
(enum_declaration name: (_) @name) @item.enum

(line_comment) @attach
(block_comment) @attach
