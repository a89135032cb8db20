namespace SharpLM.Chat.Jinja;

// The parsed template: statements (Node) and expressions (Expr), each with the template line it came from.

abstract record Expr(int Line);
sealed record LiteralExpr(object? Value, int Line) : Expr(Line);
sealed record NameExpr(string Name, int Line) : Expr(Line);
sealed record ListExpr(List<Expr> Items, int Line) : Expr(Line);
sealed record DictExpr(List<(Expr Key, Expr Value)> Items, int Line) : Expr(Line);
sealed record AttributeExpr(Expr Target, string Name, int Line) : Expr(Line);
sealed record IndexExpr(Expr Target, Expr Key, int Line) : Expr(Line);
sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step, int Line) : Expr(Line);
sealed record Arguments(List<Expr> Positional, List<(string Name, Expr Value)> Named);
sealed record CallExpr(Expr Callee, Arguments Args, int Line) : Expr(Line);
sealed record FilterExpr(Expr Target, string Name, Arguments Args, int Line) : Expr(Line);
sealed record TestExpr(Expr Target, string Name, Arguments Args, bool Negated, int Line) : Expr(Line);
sealed record UnaryExpr(string Op, Expr Operand, int Line) : Expr(Line);
sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Line) : Expr(Line);
sealed record ConditionalExpr(Expr Then, Expr Condition, Expr? Else, int Line) : Expr(Line);

abstract record Node(int Line);
sealed record TextNode(string Text, int Line) : Node(Line);
sealed record OutputNode(Expr Value, int Line) : Node(Line);
sealed record IfNode(List<(Expr Condition, List<Node> Body)> Branches, List<Node> Else, int Line) : Node(Line);
sealed record ForNode(List<string> Targets, Expr Items, Expr? Filter, List<Node> Body, List<Node> Else, int Line) : Node(Line);
sealed record SetNode(Expr Target, Expr Value, int Line) : Node(Line);
sealed record LoopControlNode(bool Break, int Line) : Node(Line);
sealed record SetBlockNode(string Name, List<Node> Body, int Line) : Node(Line);
sealed record MacroNode(string Name, List<(string Name, Expr? Default)> Parameters, List<Node> Body, int Line) : Node(Line);
