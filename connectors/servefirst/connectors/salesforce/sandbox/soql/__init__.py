"""SOQL: a lexer, a parser to a small AST, and a compiler to closures run once per record."""
