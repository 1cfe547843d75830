; Chunking rules for C. Read by codexos-chunk (see grammars/README.md).
;
; @item.KIND  a chunkable item of that kind; @name its name (one symbol path segment);
; @attach     nodes that travel with the item directly below them (comments).
;
; The earliest pattern wins when several capture the same item node, and when two items
; share one @name node the outer one wins: `typedef struct node {…} Node;` is one item,
; named after its tag.

; Definitions, and prototypes (a header's API), returning values or pointers.
(function_definition
  declarator: [(function_declarator declarator: (_) @name)
               (pointer_declarator declarator: (function_declarator declarator: (_) @name))
               (pointer_declarator
                 declarator: (pointer_declarator
                   declarator: (function_declarator declarator: (_) @name)))]) @item.function
(declaration
  declarator: [(function_declarator declarator: (identifier) @name)
               (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))]) @item.function

; `typedef struct {…} Point;` is named by the typedef, `typedef struct point {…} Point;` by
; its tag.
(type_definition type: (struct_specifier name: (_) @name body: (_))) @item.struct
(type_definition type: (struct_specifier !name body: (_)) declarator: (_) @name) @item.struct
(type_definition type: (union_specifier name: (_) @name body: (_))) @item.struct
(type_definition type: (union_specifier !name body: (_)) declarator: (_) @name) @item.struct
(type_definition type: (enum_specifier name: (_) @name body: (_))) @item.enum
(type_definition type: (enum_specifier !name body: (_)) declarator: (_) @name) @item.enum
(type_definition declarator: (type_identifier) @name) @item.type

(struct_specifier name: (_) @name body: (_)) @item.struct
(union_specifier name: (_) @name body: (_)) @item.struct
(enum_specifier name: (_) @name body: (_)) @item.enum

(preproc_function_def name: (_) @name) @item.macro

(comment) @attach
