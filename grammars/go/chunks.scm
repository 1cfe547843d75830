; Chunking rules for Go. Read by codexos-chunk (see grammars/README.md).
;
; @item.KIND  a chunkable item of that kind; @name its name (one symbol path segment);
; @scope      segments before the name: a method's receiver type;
; @module     the package every symbol of the file is in;
; @attach     nodes that travel with the item directly below them (doc comments).
;
; The earliest pattern wins when several capture the same item node, and when two items
; share one @name node the outer one wins: `type Server struct {…}` is one item from `type`.

(package_clause (package_identifier) @module)

; `func (s *Server) Start()` is `Server.Start`; `(l *List[T])` names `List`.
(method_declaration
  receiver: (parameter_list (parameter_declaration type: (_) @scope))
  name: (_) @name) @item.method
(function_declaration name: (_) @name) @item.function

; A `type` declaration of one type is that type's item; in a `type ( … )` group each type is.
(type_declaration . (type_spec name: (_) @name type: (struct_type)) .) @item.struct
(type_declaration . (type_spec name: (_) @name type: (interface_type)) .) @item.interface
(type_declaration . [(type_spec name: (_) @name) (type_alias name: (_) @name)] .) @item.type
(type_spec name: (_) @name type: (struct_type)) @item.struct
(type_spec name: (_) @name type: (interface_type)) @item.interface
[(type_spec name: (_) @name) (type_alias name: (_) @name)] @item.type
(method_elem name: (_) @name) @item.method

(comment) @attach
